"""Gradescope's autograder format: `results.json` from a Report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.models import Report


def gradescope_results(report: Report) -> dict[str, Any]:
    """Gradescope's results.json: a score, and one test per check with its feedback."""
    tests = [
        {
            "name": check.name,
            "score": check.score,
            "max_score": check.max_score,
            "status": "passed" if check.passed else "failed",
            "output": check.message
            + (f"\nHint: {check.hint}" if check.hint and not check.passed else ""),
        }
        for check in report.checks
    ]
    return {
        "score": report.score,
        "output": "\n".join(
            [report.message or report.verdict.value, *report.notes]
            + (["", "Your output:", report.output] if report.output else [])
        ),
        "tests": tests,
        "execution_time": round(report.duration_s, 3),
    }


def write_results(report: Report, path: Path) -> None:
    path.write_text(json.dumps(gradescope_results(report), indent=2), encoding="utf-8")
