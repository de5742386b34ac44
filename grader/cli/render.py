"""Plain-text views for the terminal: an item as a student sees it, a report, a listing."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from grader.models import Item, McqItem, NumericItem, PredictItem, Report
from grader.text import printable

MARKS = {True: "PASS", False: "FAIL"}


def item_text(item: Item) -> str:
    """The item before answering: no key, no feedback, no explanation."""
    view = item.public()
    lines = [
        f"{item.title}  [{item.id}]",
        f"{item.kind} · {item.difficulty} · {item.points:g} point(s) · {', '.join(item.tags)}",
        "",
        item.prompt.rstrip(),
        "",
    ]
    lines += _answer_lines(item, view)
    return "\n".join(lines)


def _answer_lines(item: Item, view: dict[str, Any]) -> list[str]:
    # A student bank's item has no key here: the course server grades its answers.
    answer = f"grader submit {item.id} --choice" if item.student else f"grader answer {item.id}"
    if isinstance(item, McqItem):
        choices = [f"  {c['letter']}. {c['text']}" for c in view["choices"]]
        return [*choices, "", f"Answer with: {answer} LETTER"]
    if isinstance(item, NumericItem):
        return [f"Answer with: {answer} NUMBER   (0.85 and 85% are the same)"]
    if isinstance(item, PredictItem):
        return [
            "```python",
            item.snippet.rstrip(),
            "```",
            "",
            f'Answer with: {answer} "WHAT IT PRINTS"',
        ]
    contract = [f"  {c['name']}: {c['signature']}" for c in view["contract"]]
    checks = [f"  - {c['name']} ({c['points']:g} pt): {c['message']}" for c in view["checks"]]
    return [
        "You define:",
        *contract,
        "",
        "Checks:",
        *checks,
        "",
        "Starter code:",
        "```python",
        item.starter.rstrip(),
        "```",
        "",
        f"Check your file with: grader check {item.id} FILE",
        *([f"Submit it for your grade with: grader submit {item.id} FILE"] if item.student else []),
    ]


def report_text(report: Report) -> str:
    """Verdict, each check with what was observed, then the explanation; an instructor's
    override with its reason. What a submission wrote (its error, its output) is in it, so every
    character a terminal would act on is shown as `?`."""
    lines = [f"{report.verdict.value}  {report.question}  {report.score:g}/{report.max_score:g}"]
    if report.override is not None:
        change = report.override
        lines.append(
            f"  score set by your instructor (graded {change.graded_score:g}): {change.reason}"
        )
    if report.message:
        lines.append(f"  {report.message}")
    for check in report.checks:
        lines.append(f"  [{MARKS[check.passed]}] {check.name}: {check.message}")
        if check.hint and not check.passed:
            lines.append(f"         hint: {check.hint}")
    if report.explanation:
        lines += ["", "Explanation:", textwrap.indent(report.explanation.rstrip(), "  ")]
    return printable("\n".join(lines))


def listing_text(items: Iterable[Item]) -> str:
    """One line per item: id, kind, difficulty, points, title."""
    rows = [(i.id, i.kind, str(i.difficulty), f"{i.points:g}", i.title) for i in items]
    if not rows:
        return "no items match"
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0]:<{width}}  {r[1]:<8} {r[2]:<7} {r[3]:>3}  {r[4]}" for r in rows)
