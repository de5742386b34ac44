"""The students' corpus (`tests/students/`): solutions written the way students write them, other
than the reference (loops, numpy, other torchvision APIs, AdamW with its defaults, ...), and
mistakes the item's own wrong solutions do not make. A right one gets full marks; a wrong one
its verdict and exactly its failed checks (`sometimes`: a check on drawn inputs it fails on some
draws only). Graded on the process sandbox's warm path, as `grader check` grades: a check that
refuses a right answer, or passes a wrong one, fails here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.grading import Grader
from grader.grading.submission import read_submission
from grader.models import Report, Verdict
from grader.settings import GraderSettings
from tests.sandbox.conftest import open_variant

STUDENTS = Path(__file__).parents[1] / "students"
CORPUS = sorted([*STUDENTS.glob("*__*.py"), *STUDENTS.glob("*__*.ipynb")])
#: `# expect: PASSED`, or `# expect: VERDICT failing a, b; sometimes c`, on the file's first line
#: (a notebook's: its first cell's).
EXPECT = re.compile(
    r"# expect: (?P<verdict>[A-Z_]+)"
    r"(?: failing (?P<failed>[^;]+))?(?:; sometimes (?P<sometimes>.+))?$"
)
_graders: list[Grader] = []

pytestmark = pytest.mark.torch


@dataclass(frozen=True)
class Expected:
    verdict: Verdict
    failed: frozenset[str]
    sometimes: frozenset[str]

    @classmethod
    def of(cls, path: Path) -> Expected:
        found = EXPECT.match(_first_line(path))
        assert found, f"{path.name}: the first line says `# expect: ...`"
        names = [
            {n.strip() for n in (found[k] or "").split(",") if n.strip()}
            for k in ("failed", "sometimes")
        ]
        return cls(Verdict(found["verdict"]), frozenset(names[0]), frozenset(names[1]))

    def holds(self, report: Report) -> bool:
        failed = {check.name for check in report.checks if not check.passed}
        if self.verdict is Verdict.PASSED:
            return report.verdict is Verdict.PASSED and report.score == report.max_score
        return (
            report.verdict is self.verdict and self.failed <= failed <= self.failed | self.sometimes
        )


def _first_line(path: Path) -> str:
    if path.suffix == ".ipynb":
        source = json.loads(path.read_text())["cells"][0]["source"]
        return ("".join(source) if isinstance(source, list) else source).splitlines()[0]
    return path.read_text().splitlines()[0]


def grader(cache: Path) -> Grader:
    """One grader on the warm process sandbox for the whole corpus: references computed once."""
    if not _graders:
        sandbox = open_variant("process-warm")
        if isinstance(sandbox, str):
            pytest.skip(f"process-warm backend unavailable: {sandbox}")
        _graders.append(Grader(load_bank(), sandbox, GraderSettings(cache=cache)))
    return _graders[0]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("references")


def test_every_item_with_solutions_has_students() -> None:
    items = {path.stem.split("__")[0] for path in CORPUS}
    coded = {
        path.name for path in (Path(__file__).parents[2] / "solutions").iterdir() if path.is_dir()
    }
    assert coded <= items, f"no student files for {sorted(coded - items)}"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_students_file_gets_what_it_deserves(path: Path, cache: Path) -> None:
    expected = Expected.of(path)
    item_id = path.stem.split("__")[0]
    # A varying item is graded in its variant of seed 0 (`bank.get`), the files' variant.
    report = grader(cache).grade(item_id, read_submission(path))
    failed = sorted(check.name for check in report.checks if not check.passed)
    assert expected.holds(report), (
        report.verdict,
        failed,
        [c.message for c in report.checks if not c.passed],
    )
