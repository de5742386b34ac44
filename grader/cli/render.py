"""What the CLI shows people: an item as a student sees it, a report, the bank's listing.

Each view is built once as a `Doc`, a list of blocks, and written as plain text (`plain`: pipes,
files, `NO_COLOR`) or, on a terminal, with colour, Markdown and wrapping (grader/cli/output.py).
Blocks hold text, never markup: what a submission wrote stays literal on every face, and a
report's text has every character a terminal would act on shown as `?`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.text import printable

if TYPE_CHECKING:
    from grader.cli.views import ItemView
    from grader.models import Report

MARKS = {True: "PASS", False: "FAIL"}
STYLES = {"PASS": "bold green", "FAIL": "bold red"}


@dataclass(frozen=True)
class Span:
    """A run of text and how a terminal shows it (a rich style name; "" for none)."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class Line:
    """Text made of spans; it may hold line breaks (an indented message)."""

    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, *parts: str | Span) -> Line:
        return cls(tuple(p if isinstance(p, Span) else Span(p) for p in parts))

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True)
class Prose:
    """Markdown from the bank (a prompt, an explanation): rendered on a terminal, as written
    (indented by `indent` spaces) elsewhere."""

    text: str
    indent: int = 0


@dataclass(frozen=True)
class Code:
    """Python source: highlighted on a terminal, in a ```python fence elsewhere."""

    text: str


@dataclass(frozen=True)
class Table:
    """Rows under a header on a terminal; elsewhere the `lines` given, one per row."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[str, ...]


Block = Line | Prose | Code | Table
Doc = list[Block]
BLANK = Line()


def plain(doc: Sequence[Block]) -> str:
    """The doc as lines of text, with no styling at all."""
    return "\n".join(_plain(block) for block in doc)


def _plain(block: Block) -> str:
    if isinstance(block, Line):
        return block.text
    if isinstance(block, Prose):
        return textwrap.indent(block.text, " " * block.indent)
    if isinstance(block, Code):
        return f"```python\n{block.text}\n```"
    return "\n".join(block.lines)


def item_doc(item: ItemView) -> Doc:
    """The item before answering, from its public view: no key, feedback or explanation."""
    view = item.view
    about = f"{view['kind']} · {view['difficulty']} · {view['points']:g} point(s)"
    return [
        Line.of(Span(view["title"], "bold"), f"  [{view['id']}]"),
        Line.of(Span(f"{about} · {', '.join(view['tags'])}", "dim")),
        *_variant_lines(view.get("seed")),
        BLANK,
        Prose(view["prompt"].rstrip()),
        BLANK,
        *_answer_blocks(item),
    ]


def _variant_lines(seed: int | None, indent: str = "") -> list[Line]:
    """`variant: seed S` for a varying item's variant (its numbers are that seed's); nothing
    for an item every student sees the same, or a fixed variant (no seed)."""
    return [] if seed is None else [Line.of(Span(f"{indent}variant: seed {seed}", "dim"))]


def item_text(item: ItemView) -> str:
    return plain(item_doc(item))


def _answer_blocks(item: ItemView) -> Doc:
    view = item.view
    # A student bank's item has no key here: the course server grades its answers.
    named = item.answer_id  # a fixed variant is answered by the former id that names it
    answer = f"grader submit {named} --choice" if item.student else f"grader answer {named}"
    if view["kind"] == "mcq":
        choices = [Line.of(f"  {c['letter']}. {c['text']}") for c in view["choices"]]
        return [*choices, BLANK, _how(f"Answer with: {answer} LETTER")]
    if view["kind"] == "numeric":
        return [_how(f"Answer with: {answer} NUMBER   (0.85 and 85% are the same)")]
    if view["kind"] == "predict":
        return [
            Code(view["snippet"].rstrip()),
            BLANK,
            _how(f'Answer with: {answer} "WHAT IT PRINTS"'),
        ]
    return _code_blocks(item)


def _code_blocks(item: ItemView) -> Doc:
    from sandbox.packages import sandbox_has  # reads the sandbox settings: code items only

    view = item.view
    contract = [Line.of(f"  {c['name']}: {c['signature']}") for c in view["contract"]]
    checks = [
        Line.of(f"  - {c['name']} ({c['points']:g} pt): {c['message']}") for c in view["checks"]
    ]
    submit = f"Submit it for your grade with: grader submit {item.answer_id} FILE"
    return [
        Line.of(Span("You define:", "bold")),
        *contract,
        BLANK,
        Line.of(Span("Checks:", "bold")),
        *checks,
        BLANK,
        Line.of(Span("Starter code:", "bold")),
        Code(view["starter"].rstrip()),
        BLANK,
        _how(
            f"Get it as a file: grader init {item.answer_id}   (--notebook for a Jupyter notebook)"
        ),
        BLANK,
        # Read from the runtime's folder, no interpreter started: cheap on every show.
        Line.of(textwrap.fill(sandbox_has(), width=100)),
        BLANK,
        _how(f"Check your file with: grader check {item.answer_id} FILE"),
        *([_how(submit)] if item.student else []),
    ]


def _how(text: str) -> Line:
    return Line.of(Span(text, "cyan"))


def report_doc(report: Report) -> Doc:
    """Verdict, each check with what was observed, the submission's output, then the
    explanation; an instructor's override with its reason. What a submission wrote (its error,
    its output) is in it, so every character a terminal would act on is shown as `?`."""
    doc: Doc = [
        Line(tuple(Span(printable(s.text), s.style) for s in line.spans))
        for line in _report_lines(report)
    ]
    if report.explanation:  # the item's, in Markdown
        explained = Prose(printable(report.explanation.rstrip()), indent=2)
        doc += [BLANK, Line.of(Span("Explanation:", "bold")), explained]
    return doc


def report_text(report: Report) -> str:
    return plain(report_doc(report))


def _report_lines(report: Report) -> list[Line]:
    lines = [_verdict_line(report)]
    lines += _variant_lines(report.variant.seed if report.variant else None, "  ")
    if report.override is not None:
        change = report.override
        lines.append(
            Line.of(
                Span(f"  score set by your instructor (graded {change.graded_score:g}): ", "bold"),
                change.reason,
            )
        )
    if report.message:
        lines.append(Line.of(textwrap.indent(report.message, "  ")))
    lines += [Line.of(Span(f"  note: {note}", "dim")) for note in report.notes]
    for check in report.checks:
        mark = MARKS[check.passed]
        lines.append(Line.of("  [", Span(mark, STYLES[mark]), f"] {check.name}: {check.message}"))
        if check.hint and not check.passed:
            lines.append(Line.of(Span(f"         hint: {check.hint}", "yellow")))
    if report.output:
        lines += [BLANK, Line.of(Span("Your output:", "bold")), Line.of(_indent(report.output))]
    return lines


def _verdict_line(report: Report) -> Line:
    style = {"passed": "bold green", "failed": "bold red"}.get(report.status.value, "bold yellow")
    score = f"  {report.question}  {report.score:g}/{report.max_score:g}"
    return Line.of(Span(report.verdict.value, style), score)


def _indent(text: str) -> str:
    return textwrap.indent(text.rstrip(), "  ")


def listing_doc(items: Iterable[ItemView]) -> Doc:
    """One row per item: id, kind, difficulty, points, title; when an item that varies is
    listed, a `varies` column before the title marks each item students get their own variant
    of."""
    listed = list(items)
    if not listed:
        return [Line.of("no items match")]
    marked = any(item.varies for item in listed)
    rows = tuple(_listing_row(item, marked) for item in listed)
    width = max(len(r[0]) for r in rows)
    lines = tuple(_listing_line(row, width) for row in rows)
    header = ("id", "kind", "difficulty", "points", *(("varies",) if marked else ()), "title")
    return [Table(header, rows, lines)]


def _listing_row(item: ItemView, marked: bool) -> tuple[str, ...]:
    view = item.view
    mark = ("varies" if item.varies else "",) if marked else ()
    return (
        view["id"],
        view["kind"],
        view["difficulty"],
        f"{view['points']:g}",
        *mark,
        view["title"],
    )


def _listing_line(row: tuple[str, ...], width: int) -> str:
    mark = f"{row[4]:<6}  " if len(row) == 6 else ""
    return f"{row[0]:<{width}}  {row[1]:<8} {row[2]:<7} {row[3]:>3}  {mark}{row[-1]}"


def listing_text(items: Iterable[ItemView]) -> str:
    return plain(listing_doc(items))
