"""gradescope/run_autograder against a folder laid out as Gradescope lays out /autograder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader.bank import load_bank
from grader.models import McqItem

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "gradescope" / "run_autograder"
MCQ = "finetuning-purpose"
CODE = "binary-metrics"


def autograde(
    root: Path, question: str | None, files: dict[str, bytes]
) -> tuple[int, dict[str, Any], str]:
    """Lay out source/, submission/ and results/ under `root`, run the script, read results."""
    source, submission = root / "source", root / "submission"
    source.mkdir()
    submission.mkdir()
    if question:
        (source / "question").write_text(f"{question}\n")
    for name, content in files.items():
        (submission / name).write_bytes(content)
    results = root / "results" / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env |= {
        "GRADER_GS_REPO": str(REPO),
        "GRADER_GS_SOURCE": str(source),
        "GRADER_GS_SUBMISSION": str(submission),
        "GRADER_GS_RESULTS": str(results),
    }
    done = subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, json.loads(results.read_text()), done.stderr


def mcq_letters() -> tuple[str, str]:
    item = load_bank().get(MCQ)
    assert isinstance(item, McqItem)
    return item.answer, next(x for x in item.letters if x != item.answer)


@pytest.mark.parametrize(("pick", "score"), [(0, 1.0), (1, 0.0)], ids=["right", "wrong"])
def test_mcq_answer_file_is_graded(tmp_path: Path, pick: int, score: float) -> None:
    code, results, err = autograde(
        tmp_path, MCQ, {"answer.txt": f"{mcq_letters()[pick]}\n".encode()}
    )
    assert code == 0, err
    assert results["score"] == score
    assert [t["name"] for t in results["tests"]] == ["answer"]
    assert results["tests"][0]["status"] == ("passed" if score else "failed")


@pytest.mark.parametrize(
    ("question", "files", "code", "needle"),
    [
        (MCQ, {}, 2, "answer.txt"),
        (CODE, {"a.py": b"x = 1", "b.py": b"y = 2"}, 2, "exactly one .py or .ipynb file"),
        (CODE, {"a.ipynb": b"not a notebook"}, 2, "not a Jupyter notebook"),
        (None, {"answer.txt": b"A"}, 3, "no question id"),
        ("no-such-item", {"answer.txt": b"A"}, 2, "unknown question id"),
    ],
    ids=["no-answer-file", "two-files", "bad-notebook", "no-question", "unknown-question"],
)
def test_ungradable_submissions_still_write_results(
    tmp_path: Path, question: str | None, files: dict[str, bytes], code: int, needle: str
) -> None:
    got, results, err = autograde(tmp_path, question, files)
    assert got == code
    assert results["score"] == 0.0 and results["tests"] == []
    assert needle in results["output"] and err.startswith("error: ")


@pytest.mark.torch
@pytest.mark.slow
def test_code_submission_graded_in_the_sandbox(tmp_path: Path) -> None:
    reference = (REPO / "solutions" / CODE / "reference.py").read_bytes()
    code, results, err = autograde(tmp_path, CODE, {"solution.py": reference})
    assert code == 0, err
    assert results["score"] == 10.0
    assert all(test["status"] == "passed" for test in results["tests"])
    assert len(results["tests"]) >= 2


def test_hostile_output_is_a_failed_result_not_a_crash(tmp_path: Path) -> None:
    """Predictions of +inf once raised OverflowError in the judge: no results.json, a traceback."""
    forgery = REPO / "tests" / "forgery" / "finetune-head__inf_predictions.py"
    code, results, stderr = autograde(
        tmp_path, "finetune-head", {"solution.py": forgery.read_bytes()}
    )
    assert code == 0 and "Traceback" not in stderr
    assert results["score"] < 10 and results["tests"]
