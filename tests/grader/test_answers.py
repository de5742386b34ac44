"""Grading letters and numbers, and refusing answers that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_item
from grader.errors import BadAnswer
from grader.grading.answers import grade_answer
from grader.models import Item, Status, Verdict
from tests.grader.items import mcq, numeric, write


def load(path: Path) -> Item:
    item, issues = load_item(path)
    assert item is not None, issues
    return item


@pytest.mark.parametrize(
    ("answer", "passed", "feedback"),
    [
        ("B", True, "Right"),
        ("b", True, "Right"),
        (" A ", False, "MobileNetV2"),
        ("(B)", True, "Right"),
        ("b)", True, "Right"),
        ("B.", True, "Right"),
        ("A:", False, "MobileNetV2"),
    ],
    ids=["upper", "lower-case", "wrong", "in-parentheses", "parenthesis", "full-stop", "colon"],
)
def test_mcq(tmp_path: Path, answer: str, passed: bool, feedback: str) -> None:
    report = grade_answer(load(mcq(tmp_path)), answer)
    assert report.passed is passed
    assert report.verdict is (Verdict.PASSED if passed else Verdict.WRONG_ANSWER)
    assert report.score == (2 if passed else 0) and report.max_score == 2
    assert feedback in report.checks[0].message
    assert report.explanation and "fc" in report.explanation


@pytest.mark.parametrize(
    "answer",
    ["D", "AB", "", "1", "(B", "B))", "option B", "D)"],
    ids=[
        "past-end",
        "two",
        "empty",
        "digit",
        "unclosed",
        "two-closing",
        "words",
        "decorated-past-end",
    ],
)
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


COUNT = """\
schema_version: 1
id: pos-count
kind: numeric
title: Positives
prompt: How many actual Pos images did the model predict as Pos?
difficulty: easy
answer: 85
tolerance:
  absolute: 0
explanation: The actual-Pos row holds 85 predicted Pos and 10 predicted Neg.
"""


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ("85", "85 looks like a percentage: write it with its sign (85%) or as a fraction (0.85)"),
        ("87", "87 looks like a percentage: write it with its sign (87%) or as a fraction (0.87)"),
        ("0.85%", "0.85% is 0.0085; if you meant the fraction 0.85, write 0.85 (or 85%)"),
        ("0.5", None),
        ("850", None),
    ],
    ids=["percent-no-sign", "wrong-percent-no-sign", "fraction-with-sign", "plain-wrong", "far"],
)
def test_a_fraction_in_a_percentage_format_is_wrong_with_a_hint(
    tmp_path: Path, answer: str, hint: str | None
) -> None:
    """Never rescaled (the item does not say its quantity is a fraction), so never a pass; the
    hint is the same whatever the rescaled value would be worth."""
    report = grade_answer(load(numeric(tmp_path)), answer)
    assert report.status is Status.FAILED and report.score == 0
    assert report.checks[0].hint == hint


@pytest.mark.parametrize(
    ("answer", "status"),
    [("85", Status.PASSED), ("0.85", Status.FAILED), ("85%", Status.FAILED)],
    ids=["count", "as-fraction", "as-percent"],
)
def test_a_key_above_one_is_never_read_as_a_percentage(
    tmp_path: Path, answer: str, status: Status
) -> None:
    report = grade_answer(load(write(tmp_path, "pos-count", COUNT)), answer)
    assert report.status is status and report.checks[0].hint is None


def test_a_passed_answer_gets_no_format_hint(tmp_path: Path) -> None:
    assert grade_answer(load(numeric(tmp_path)), "85%").checks[0].hint is None


@pytest.mark.parametrize("answer", ["0,85", "1,000"], ids=["decimal-comma", "thousands"])
def test_a_comma_is_refused_with_how_to_write_the_number(tmp_path: Path, answer: str) -> None:
    with pytest.raises(BadAnswer, match=r"write decimals with a point \(0\.85\)"):
        grade_answer(load(numeric(tmp_path)), answer)


@pytest.mark.parametrize(
    ("raw", "letter"),
    [
        ("b", "B"),
        (" (C) ", "C"),
        ("a.", "A"),
        ("D:", "D"),
        ("0.85", None),
        ("", None),
        ("(B", None),
    ],
)
def test_a_choice_names_one_letter_or_none(raw: str, letter: str | None) -> None:
    """What grading and the course's option statistics both read a choice as."""
    from grader.grading.answers import choice_letter

    assert choice_letter(raw) == letter
