"""The one cap on a report's size, and notebooks whose dropped lines are counted per cell."""

from __future__ import annotations

import json

from grader.grading.bounds import REPORT_CAP, bounded
from grader.grading.submission import source_from_bytes
from grader.models import CheckResult, Report, Status, Verdict


def report(message: str = "", checks: int = 1, observed: str = "") -> Report:
    return Report(
        question="q",
        status=Status.FAILED,
        verdict=Verdict.WRONG_ANSWER,
        score=0.0,
        max_score=1.0,
        duration_s=0.1,
        backend="process",
        message=message or None,
        checks=[
            CheckResult(
                name=f"c{i}", passed=False, score=0, max_score=1, message="m", observed=observed
            )
            for i in range(checks)
        ],
    )


def size(r: Report) -> int:
    return len(r.model_dump_json().encode())


def test_a_small_report_is_left_as_it_is() -> None:
    small = report("fine", checks=3, observed="x" * 100)
    assert bounded(small) is small


def test_a_huge_message_is_cut_under_the_cap_with_a_marker() -> None:
    huge = report("y" * 18_000_000)
    cut = bounded(huge)
    assert size(cut) <= REPORT_CAP
    assert cut.message is not None and cut.message.startswith("y" * 100)
    assert "more characters cut: reports are capped" in cut.message
    assert (cut.verdict, cut.score, len(cut.checks)) == (huge.verdict, huge.score, 1)


def test_many_large_checks_are_cut_then_dropped_and_the_message_says_how_many() -> None:
    many = report(checks=2000, observed="z" * 5000)
    cut = bounded(many)
    assert size(cut) <= REPORT_CAP
    assert 0 < len(cut.checks) < 2000
    assert f"{2000 - len(cut.checks)} more check results cut" in (cut.message or "")
    assert [c.name for c in cut.checks] == [f"c{i}" for i in range(len(cut.checks))]


def notebook(cells: list[str]) -> bytes:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "code",
                    "id": f"c{i}",
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                    "source": text,
                }
                for i, text in enumerate(cells)
            ],
        }
    ).encode()


def test_a_notebook_of_shell_lines_gets_one_note_per_cell() -> None:
    """1 MB of `!x` lines: before, one note per line (an 18 MB report); now one per cell."""
    lines = "\n".join("!x" for _ in range(170_000))
    source = source_from_bytes(
        notebook([lines, "def f():\n    return 1\n", "%ls\n!pwd"]), "a.ipynb"
    )
    assert source.notes == [
        "cell 1: dropped 170000 shell/magic lines, first `!x` (they do not run in the grader)",
        "cell 3: dropped 2 shell/magic lines, first `%ls` (they do not run in the grader)",
    ]
