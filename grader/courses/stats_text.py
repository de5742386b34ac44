"""Item statistics as a plain-text table for the terminal: one line per item, under an mcq item a
line of option shares (`*` marks the key), under a code item a line of check failure rates, then
the flags, one per line. Every line is cut to printable characters: an item id or check name
holding an escape sequence must not drive the instructor's terminal."""

from __future__ import annotations

from collections.abc import Sequence

from grader.courses.stats import CourseStats, ItemStats, figures, percent
from grader.text import printable

COLUMNS = ("item", "kind", "students", "attempts", "first", "final", "disc", "p50 s", "p95 s")
#: Columns written left-aligned; the numbers are right-aligned.
TEXT_COLUMNS = 2


def render(stats: CourseStats) -> str:
    cells = [_cells(item) for item in stats.items]
    widths = [max(len(row[i]) for row in [COLUMNS, *cells]) for i in range(len(COLUMNS))]
    lines = [_headline(stats), _line(COLUMNS, widths)]
    for item, row in zip(stats.items, cells, strict=True):
        lines.append(_line(row, widths))
        lines.extend(f"    {detail}" for detail in _details(item))
    lines.extend(f"FLAG {flag.code} {flag.message}" for flag in stats.flagged)
    return "\n".join(printable(line) for line in lines) + "\n"


def _headline(stats: CourseStats) -> str:
    return f"{stats.students} students, {len(stats.items)} items, {len(stats.flagged)} flags"


def _cells(item: ItemStats) -> tuple[str, ...]:
    return (item.id, item.kind, *figures(item))


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [
        cell.ljust(width) if i < TEXT_COLUMNS else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ]
    return "  ".join(padded).rstrip()


def _details(item: ItemStats) -> list[str]:
    """The sub-lines under an item: option shares, check failure rates."""
    found = []
    if item.options:
        found.append(" · ".join(_option(o.letter, o.share, o.correct) for o in item.options))
    if item.check_failure_rates:
        rates = item.check_failure_rates.items()
        found.append("checks failed: " + " · ".join(f"{n} {percent(r)}" for n, r in rates))
    return found


def _option(letter: str, share: float | None, key: bool) -> str:
    return f"{letter} {percent(share)}{'*' if key else ''}"
