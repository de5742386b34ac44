"""Item statistics as one self-contained HTML page: inline CSS, inline SVG charts, no script and
no address outside the page, so it looks the same opened from disk, from a mail or offline, and
opening it asks nothing of any server. Every string that comes from data (the title, item ids and
kinds, option letters, check names, flag messages) goes through `_e`, which escapes it for text
and for attribute values alike: those strings are written by item authors and must not become
markup. Charts are horizontal bars on a shared layout (`_share_chart`) or, for discrimination, on
a signed scale around a zero line."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from grader.courses.stats import CourseStats, Flag, ItemStats, figures, number, percent

LABEL_W = 170  # the item id or option column of a chart
PLOT_W = 380  # the bars: 0 to 100%, or -1 to 1
NOTE_W = 230  # the words right of a bar
WIDTH = LABEL_W + PLOT_W + NOTE_W
AXIS_H = 24
BAR_H = 13
BAR_GAP = 3
ROW_GAP = 11
LABEL_CHARS = 24  # longer labels are cut in the chart; the tooltip keeps the whole one
HEADS = (
    "Item",
    "Kind",
    "Students",
    "Attempts",
    "First",
    "Final",
    "Discr.",
    "p50 s",
    "p95 s",
    "Flags",
)
NUMERIC = frozenset(HEADS[2:-1])

CSS = """
body { margin: 0; background: #f6f7f9; color: #1f2933;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; color: #52606d; }
header strong { color: #1f2933; }
header .alert { color: #b3261e; }
section { background: #fff; border: 1px solid #e4e7eb; border-radius: 8px;
  padding: 16px 20px; margin: 18px 0; overflow-x: auto; }
h2 { font-size: 17px; font-weight: 600; margin: 0 0 10px; }
p.hint, p.empty { color: #616e7c; font-size: 13px; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th { text-align: left; font-weight: 600; color: #52606d; border-bottom: 2px solid #e4e7eb; }
th, td { padding: 6px 10px; vertical-align: top; }
td { border-bottom: 1px solid #eef0f2; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
tr.flagged td { background: #fff7e6; }
.badge { display: inline-block; margin: 1px 4px 1px 0; padding: 1px 8px; border-radius: 10px;
  background: #fde8e6; color: #9b1c15; font-size: 12px; white-space: nowrap; }
ul.flags { margin: 0; padding-left: 0; list-style: none; }
ul.flags li { padding: 4px 0; border-bottom: 1px solid #eef0f2; }
.key { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin: 0 4px 0 10px; vertical-align: -1px; }
figure { margin: 0 0 16px; }
figcaption { font-size: 14px; margin-bottom: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg .label { fill: #1f2933; }
svg .tick, svg .note { fill: #616e7c; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .zero { stroke: #3e4c59; stroke-width: 1.5; }
.first { fill: #a9c1da; background: #a9c1da; }
.final { fill: #2f6fab; background: #2f6fab; }
.pos { fill: #3f8f4a; }
.neg { fill: #c8463d; }
.option { fill: #a9c1da; }
.answer { fill: #3f8f4a; }
.fail { fill: #d9822b; }
"""


@dataclass(frozen=True)
class _Bar:
    """One bar of a share chart: its share 0..1 (None draws none), colour class and words."""

    share: float | None
    css: str
    note: str


@dataclass(frozen=True)
class _Row:
    """One labelled group of bars; `tip` is the tooltip (the whole label by default)."""

    label: str
    bars: tuple[_Bar, ...]
    tip: str = ""


def render(stats: CourseStats, title: str) -> str:
    """The whole page: header, summary table, the charts, the flags."""
    items = stats.items
    sections = [
        _section("Items", _summary_table(items)),
        _section("Facility", _facility(items)),
        _section("Discrimination", _discrimination(items)),
        _section("Multiple-choice options", _options(items)),
        _section("Check failures", _checks(items)),
        _section("Flags", _flags(stats.flagged)),
    ]
    body = _header(stats, title) + "".join(sections)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _header(stats: CourseStats, title: str) -> str:
    flagged = len({flag.item for flag in stats.flagged})
    counts = (
        f"<strong>{stats.students}</strong> students · <strong>{len(stats.items)}</strong> items"
        f' · <strong class="alert">{len(stats.flagged)}</strong> flags'
        f" on <strong>{flagged}</strong> items"
    )
    return f"<header>\n<h1>{_e(title)}</h1>\n<p>{counts}</p>\n</header>\n"


def _section(heading: str, content: str) -> str:
    return f"<section>\n<h2>{heading}</h2>\n{content}\n</section>\n"


def _empty(text: str) -> str:
    return f'<p class="empty">{text}</p>'


def _summary_table(items: Sequence[ItemStats]) -> str:
    if not items:
        return _empty("No items.")
    heads = "".join(f'<th class="num">{h}</th>' if h in NUMERIC else f"<th>{h}</th>" for h in HEADS)
    rows = "\n".join(_summary_row(item) for item in items)
    return f"<table>\n<thead><tr>{heads}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def _summary_row(item: ItemStats) -> str:
    cells = "".join(f'<td class="num">{_e(value)}</td>' for value in figures(item))
    badges = "".join(_badge(flag) for flag in item.flags)
    css = ' class="flagged"' if item.flags else ""
    return (
        f'<tr{css}><td class="id">{_e(item.id)}</td><td>{_e(item.kind)}</td>'
        f"{cells}<td>{badges}</td></tr>"
    )


def _badge(flag: Flag) -> str:
    return f'<span class="badge" title="{_e(flag.message)}">{_e(flag.code)}</span>'


def _facility(items: Sequence[ItemStats]) -> str:
    if not items:
        return _empty("No items.")
    legend = (
        '<p class="hint">Share of the students who were right:<span class="key first"></span>'
        'at their first attempt<span class="key final"></span>in the end</p>'
    )
    rows = [_facility_row(item) for item in items]
    return legend + _share_chart(rows, "facility at the first attempt and in the end")


def _facility_row(item: ItemStats) -> _Row:
    tip = f"{item.id}: {item.students} students, {item.attempts} attempts"  # escaped when drawn
    if not item.students:
        return _Row(item.id, (_Bar(None, "first", "no attempts"),), tip)
    first = _Bar(item.facility_first, "first", f"first {percent(item.facility_first)}")
    final = _Bar(item.facility_final, "final", f"in the end {percent(item.facility_final)}")
    return _Row(item.id, (first, final), tip)


def _options(items: Sequence[ItemStats]) -> str:
    figures = [_option_figure(item) for item in items if item.options]
    if not figures:
        return _empty("No multiple-choice items.")
    hint = (
        '<p class="hint">Share of first choices; the key is green. Strong and weak: the top and'
        " bottom 27% of the item's students by total score.</p>"
    )
    return hint + "\n".join(figures)


def _option_figure(item: ItemStats) -> str:
    chose = sum(o.picked for o in item.options)
    rows = []
    for o in item.options:
        note = percent(o.share)
        if o.picked_by_strong is not None and o.picked_by_weak is not None:
            note += f" · strong {percent(o.picked_by_strong)} · weak {percent(o.picked_by_weak)}"
        label = f"{o.letter} (key)" if o.correct else o.letter
        rows.append(_Row(label, (_Bar(o.share, "answer" if o.correct else "option", note),)))
    caption = f'<span class="id">{_e(item.id)}</span>: {_e(str(chose))} first choices'
    chart = _share_chart(rows, f"option shares of {item.id}")
    return f"<figure>\n<figcaption>{caption}</figcaption>\n{chart}\n</figure>"


def _checks(items: Sequence[ItemStats]) -> str:
    figures = [_check_figure(item) for item in items if item.check_failure_rates]
    if not figures:
        return _empty("No code items with checks.")
    hint = '<p class="hint">Share of all graded attempts in which the check failed.</p>'
    return hint + "\n".join(figures)


def _check_figure(item: ItemStats) -> str:
    rows = [
        _Row(name, (_Bar(rate, "fail", percent(rate)),))
        for name, rate in item.check_failure_rates.items()
    ]
    caption = f'<span class="id">{_e(item.id)}</span>: {_e(str(item.attempts))} attempts'
    chart = _share_chart(rows, f"check failure rates of {item.id}")
    return f"<figure>\n<figcaption>{caption}</figcaption>\n{chart}\n</figure>"


def _flags(flags: Sequence[Flag]) -> str:
    if not flags:
        return _empty("No flags.")
    lines = "\n".join(f"<li>{_badge(flag)} {_e(flag.message)}</li>" for flag in flags)
    return f'<ul class="flags">\n{lines}\n</ul>'


def _svg(height: float, label: str, content: str) -> str:
    """An inline chart; HTML needs no xmlns on it, so the page names no address at all."""
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:g}" width="{WIDTH}" '
        f'height="{height:g}" role="img" aria-label="{_e(label)}">{content}</svg>'
    )


def _label(text: str, y: float) -> str:
    short = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return f'<text class="label" x="{LABEL_W - 8}" y="{y:g}" text-anchor="end">{_e(short)}</text>'


def _note(text: str, x: float, y: float) -> str:
    return f'<text class="note" x="{x:.1f}" y="{y:g}">{_e(text)}</text>'


def _tick(x: float, text: str, height: float, css: str = "grid") -> str:
    line = f'<line class="{css}" x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{height:g}"/>'
    tick = f'<text class="tick" x="{x:.1f}" y="{AXIS_H - 10}" text-anchor="middle">{text}</text>'
    return line + tick


def _row_height(row: _Row) -> int:
    return len(row.bars) * (BAR_H + BAR_GAP) + ROW_GAP


def _share_chart(rows: Sequence[_Row], label: str) -> str:
    """Horizontal bars from 0 to 100%, one group per row, gridlines every quarter."""
    height = AXIS_H + sum(_row_height(row) for row in rows)
    grid = "".join(_tick(LABEL_W + PLOT_W * t / 100, f"{t}%", height) for t in range(0, 101, 25))
    parts, y = [grid], AXIS_H
    for row in rows:
        parts.append(_share_row(row, y))
        y += _row_height(row)
    return _svg(height, label, "".join(parts))


def _share_row(row: _Row, top: int) -> str:
    middle = top + len(row.bars) * (BAR_H + BAR_GAP) / 2 + 2
    parts = [f"<g><title>{_e(row.tip or row.label)}</title>", _label(row.label, middle)]
    for i, bar in enumerate(row.bars):
        y = top + i * (BAR_H + BAR_GAP)
        width = PLOT_W * min(1.0, max(0.0, bar.share or 0.0))
        rect = f'x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{BAR_H}"'
        parts.append(f'<rect class="{bar.css}" {rect} rx="2"/>')
        parts.append(_note(bar.note, LABEL_W + width + 6, y + BAR_H - 2))
    return "".join(parts) + "</g>"


def _discrimination(items: Sequence[ItemStats]) -> str:
    if not items:
        return _empty("No items.")
    hint = (
        '<p class="hint">Point-biserial correlation of being right in the end with the score on'
        " the other items; below zero, students who do well elsewhere get the item wrong.</p>"
    )
    return hint + _signed_chart(items)


def _signed_chart(items: Sequence[ItemStats]) -> str:
    """Bars from the zero line, -1 at the left edge of the plot and 1 at the right."""
    step = BAR_H + ROW_GAP
    height = AXIS_H + len(items) * step
    ticks = [(-1.0, "−1"), (-0.5, "−0.5"), (0.5, "0.5"), (1.0, "1")]
    grid = "".join(_tick(_signed_x(v), text, height) for v, text in ticks)
    parts = [grid] + [_signed_row(item, AXIS_H + i * step) for i, item in enumerate(items)]
    parts.append(_tick(_signed_x(0.0), "0", height, "zero"))  # drawn last: over the bars
    return _svg(height, "discrimination per item", "".join(parts))


def _signed_x(value: float) -> float:
    return LABEL_W + PLOT_W * (min(1.0, max(-1.0, value)) + 1) / 2


def _signed_row(item: ItemStats, y: int) -> str:
    d = item.discrimination
    zero = _signed_x(0.0)
    tip = f"<title>{_e(item.id)}: discrimination {number(d, 2)}</title>"
    label = _label(item.id, y + BAR_H - 2)
    if d is None:
        return f"<g>{tip}{label}{_note(number(d, 2), zero + 6, y + BAR_H - 2)}</g>"
    left, right = sorted((zero, _signed_x(d)))
    rect = f'x="{left:.1f}" y="{y}" width="{right - left:.1f}" height="{BAR_H}"'
    bar = f'<rect class="{"neg" if d < 0 else "pos"}" {rect} rx="2"/>'
    note = _note(number(d, 2), max(right, zero) + 6, y + BAR_H - 2)
    return f"<g>{tip}{label}{bar}{note}</g>"
