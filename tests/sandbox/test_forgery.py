"""The forgery corpus (`tests/forgery/`): files that do not solve their item and try to pass it
anyway. On every backend and path each one ends `failed` with a message a student can read:
never `passed`, never a grader error. A reference solution graded after the corpus still passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.bank.solutions import solution_source
from grader.grading import Grader
from grader.grading.submission import Source
from grader.models import Status, Verdict
from grader.settings import GraderSettings
from sandbox.base import Sandbox
from tests.sandbox.conftest import VARIANTS, open_variant

CORPUS = sorted((Path(__file__).parents[1] / "forgery").glob("*__*.py"))
_graders: dict[int, Grader] = {}


@pytest.fixture(scope="module")
def bank():  # type: ignore[no-untyped-def]
    return load_bank()


def grade(bank, sandbox: Sandbox, item_id: str, text: str, cache: Path):  # type: ignore[no-untyped-def]
    if id(sandbox) not in _graders:  # one per sandbox: its references computed once
        settings = GraderSettings(cache=cache / str(id(sandbox)))
        _graders[id(sandbox)] = Grader(bank, sandbox, settings)
    return _graders[id(sandbox)].grade(item_id, Source(text))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("references")


#: The whole corpus on the process sandbox's warm path (the default, and the one the forgeries
#: were written against); every third file on the other paths, which share the observer and
#: differ only in how the runner is started (CI time goes where the bugs would be).
CASES = [
    pytest.param(variant, path, id=f"{variant}-{path.stem}")
    for variant in VARIANTS
    for path in (CORPUS if variant == "process-warm" else CORPUS[::3])
]


def opened(variant: str) -> Sandbox:
    sandbox = open_variant(variant)
    if isinstance(sandbox, str):
        pytest.skip(f"{variant} backend unavailable: {sandbox}")
    return sandbox


@pytest.mark.parametrize(("variant", "path"), CASES)
def test_a_forgery_never_passes(bank, variant: str, path: Path, cache: Path) -> None:  # type: ignore[no-untyped-def]
    item_id = path.stem.split("__")[0]
    report = grade(bank, opened(variant), item_id, path.read_text(), cache)
    assert report.status is Status.FAILED, report.model_dump_json(indent=1)
    assert report.verdict is not Verdict.PASSED
    assert report.score < report.max_score
    assert "Traceback" not in (report.message or "")
    assert all("Traceback" not in c.message for c in report.checks)


@pytest.mark.parametrize("item_id", sorted({p.stem.split("__")[0] for p in CORPUS}))
def test_the_reference_still_passes_after_the_corpus(
    bank, sandbox: Sandbox, item_id: str, cache: Path
) -> None:  # type: ignore[no-untyped-def]
    # A varying item is graded in its variant of seed 0 (`bank.get`): its reference is rendered
    # for that variant (the file is a template).
    reference = GraderSettings().solutions / item_id / "reference.py"
    text = solution_source(bank.get(item_id), reference)
    report = grade(bank, sandbox, item_id, text, cache)
    assert report.verdict is Verdict.PASSED, report.model_dump_json(indent=1)
