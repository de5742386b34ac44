"""The hostile corpus submitted through the grader: nothing passes, limits get their verdicts,
and every submission comes back with a report (none lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_item
from grader.grading.code import grade_code
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source
from grader.models import CodeItem, Verdict
from sandbox.base import Sandbox
from sandbox.hostile.corpus import CORPUS, PRELUDE

ITEM = """\
schema_version: 1
id: answer-42
kind: code
title: The answer
prompt: Define answer() returning 42.
difficulty: easy
explanation: It is 42.
starter: "def answer(): ..."
contract: [{name: answer, signature: "answer() -> int"}]
limits: {wall_s: 4, memory_mb: 512}
checks:
  - name: answers
    message: answer() returns 42.
    call: {function: answer}
    expect: {value: 42}
"""

LIMIT_VERDICTS = {
    "cpu-burn": Verdict.TIME_LIMIT,
    "sleep-forever": Verdict.TIME_LIMIT,
    "memory-bomb": Verdict.MEMORY_LIMIT,
    "stderr-flood": Verdict.OUTPUT_LIMIT,
}
SINGLE = [attack for attack in CORPUS if len(attack.sources) == 1]


@pytest.fixture(scope="module")
def item(tmp_path_factory: pytest.TempPathFactory) -> CodeItem:
    path = tmp_path_factory.mktemp("bank") / "answer-42.yaml"
    path.write_text(ITEM)
    loaded, issues = load_item(path)
    assert isinstance(loaded, CodeItem), issues
    return loaded


@pytest.mark.parametrize("attack", SINGLE, ids=[a.name for a in SINGLE])
def test_hostile_submission_never_passes(
    sandbox: Sandbox, item: CodeItem, attack, tmp_path: Path
) -> None:
    store = ReferenceStore(sandbox, tmp_path, tmp_path)
    report = grade_code(item, Source(PRELUDE + attack.sources[0]), sandbox, store)
    assert report.status.value == "failed" and report.score == 0
    assert report.verdict is LIMIT_VERDICTS.get(attack.name, report.verdict)
    assert report.verdict is not Verdict.PASSED


def test_a_correct_answer_still_passes_after_the_corpus(
    sandbox: Sandbox, item: CodeItem, tmp_path: Path
) -> None:
    store = ReferenceStore(sandbox, tmp_path, tmp_path)
    report = grade_code(item, Source("def answer():\n    return 42\n"), sandbox, store)
    assert report.verdict is Verdict.PASSED
