"""The cells and columns the course-server commands print (`tokens list`, `lms deliveries`,
`history`, `course submissions`), and the exit code a report gives; kept apart from the HTTP
client so that building the parser, which declares those commands, loads no HTTP library."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader.text import printable

if TYPE_CHECKING:
    from grader.models import Report


def iso(seconds: float | None) -> str:
    """Unix seconds as ISO 8601 in UTC, to the second; `-` for none."""
    if seconds is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def attempt_text(assignment: str | None, attempt: int | None) -> str:
    """`ASSIGNMENT#N`, or `practice` outside an assignment."""
    return f"{assignment}#{attempt}" if assignment else "practice"


def score_text(score: float | None, top: float | None) -> str:
    return "-" if score is None or top is None else f"{score:g}/{top:g}"


def columns_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; a character that is not printable (an escape sequence in a name)
    is shown as `?`, so no cell drives the terminal."""
    cells = [[printable(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def exit_code(report: Report) -> int:
    """`grader check`'s: 0 passed, 1 graded and not passed, 3 the grader could not grade."""
    if report.status.value == "error":
        return 3
    return 0 if report.passed else 1
