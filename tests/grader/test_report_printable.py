"""Text a submission can write into a report is printable in the report itself (JSON included),
not only where the CLI prints it."""

from __future__ import annotations

from grader.models import Report

RAW = "name\x1b[31m\x1b]0;title\x07\r"


def test_every_text_a_submission_reaches_is_printable_in_the_report() -> None:
    report = Report(
        question="q",
        status="failed",
        verdict="WRONG_ANSWER",
        score=0,
        max_score=1,
        duration_s=0,
        backend="process",
        message=f"Your file defines: `{RAW}`\n  line 2",
        notes=[f"cell 2: dropped `{RAW}`"],
        output=RAW,
        checks=[{"name": "c", "passed": False, "score": 0, "max_score": 1, "message": RAW}],
    )
    text = report.model_dump_json()
    assert "\\u001b" not in text and "\\u0007" not in text and "\\r" not in text
    assert report.message is not None and report.message.endswith("\n  line 2")  # lines kept
