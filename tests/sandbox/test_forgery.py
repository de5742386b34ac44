"""The forgery corpus (`tests/forgery/`): files that do not solve their item and try to pass it
anyway. On every backend and path each one ends `failed` with a message a student can read:
never `passed`, never a grader error. A reference solution graded after the corpus still passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.grading.code import grade_code
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source
from grader.models import CodeItem, Status, Verdict
from grader.workspace import default_solutions_dir, item_data
from sandbox.base import Sandbox

CORPUS = sorted((Path(__file__).parents[1] / "forgery").glob("*__*.py"))
_stores: dict[int, ReferenceStore] = {}


@pytest.fixture(scope="module")
def bank():  # type: ignore[no-untyped-def]
    return load_bank()


def grade(bank, sandbox: Sandbox, item_id: str, text: str, cache: Path):  # type: ignore[no-untyped-def]
    item = bank.get(item_id)
    assert isinstance(item, CodeItem)
    data = item_data(item)
    store = _stores.setdefault(
        id(sandbox),
        ReferenceStore(sandbox, default_solutions_dir(), cache / str(id(sandbox)), data),
    )
    store.data = data
    return grade_code(item, Source(text), sandbox, store, data)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("references")


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_a_forgery_never_passes(bank, sandbox: Sandbox, path: Path, cache: Path) -> None:  # type: ignore[no-untyped-def]
    item_id = path.stem.split("__")[0]
    report = grade(bank, sandbox, item_id, path.read_text(), cache)
    assert report.status is Status.FAILED, report.model_dump_json(indent=1)
    assert report.verdict is not Verdict.PASSED
    assert report.score < report.max_score
    assert "Traceback" not in (report.message or "")
    assert all("Traceback" not in c.message for c in report.checks)


@pytest.mark.parametrize("item_id", sorted({p.stem.split("__")[0] for p in CORPUS}))
def test_the_reference_still_passes_after_the_corpus(
    bank, sandbox: Sandbox, item_id: str, cache: Path
) -> None:  # type: ignore[no-untyped-def]
    text = (default_solutions_dir() / item_id / "reference.py").read_text()
    report = grade(bank, sandbox, item_id, text, cache)
    assert report.verdict is Verdict.PASSED, report.model_dump_json(indent=1)
