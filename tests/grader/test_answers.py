"""Grading letters and numbers, and refusing answers that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_item
from grader.errors import BadAnswer
from grader.grading.answers import grade_answer
from grader.models import Item, Status, Verdict
from tests.grader.items import mcq, numeric


def load(path: Path) -> Item:
    item, issues = load_item(path)
    assert item is not None, issues
    return item


@pytest.mark.parametrize(
    ("answer", "passed", "feedback"),
    [("B", True, "Right"), ("b", True, "Right"), (" A ", False, "MobileNetV2")],
    ids=["upper", "lower-case", "wrong"],
)
def test_mcq(tmp_path: Path, answer: str, passed: bool, feedback: str) -> None:
    report = grade_answer(load(mcq(tmp_path)), answer)
    assert report.passed is passed
    assert report.verdict is (Verdict.PASSED if passed else Verdict.WRONG_ANSWER)
    assert report.score == (2 if passed else 0) and report.max_score == 2
    assert feedback in report.checks[0].message
    assert report.explanation and "fc" in report.explanation


@pytest.mark.parametrize("answer", ["D", "AB", "", "1"], ids=["past-end", "two", "empty", "digit"])
def test_mcq_unreadable(tmp_path: Path, answer: str) -> None:
    with pytest.raises(BadAnswer, match="not one of A-C"):
        grade_answer(load(mcq(tmp_path)), answer)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("0.85", Status.PASSED),
        ("85%", Status.PASSED),
        ("0.8504", Status.PASSED),
        ("0.851", Status.FAILED),
        ("0.5", Status.FAILED),
    ],
    ids=["exact", "percent", "within", "just-outside", "far"],
)
def test_numeric(tmp_path: Path, answer: str, status: Status) -> None:
    assert grade_answer(load(numeric(tmp_path)), answer).status is status


@pytest.mark.parametrize("answer", ["abc", "nan", "inf", "%"], ids=["word", "nan", "inf", "pct"])
def test_numeric_unreadable(tmp_path: Path, answer: str) -> None:
    with pytest.raises(BadAnswer, match="is not a number"):
        grade_answer(load(numeric(tmp_path)), answer)
