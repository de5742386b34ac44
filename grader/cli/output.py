"""Where the CLI's results go: plain text for pipes and files, rich for a person at a terminal.

On a terminal (and without `NO_COLOR`, or `TERM=dumb`) a doc (grader/cli/render.py) is written
with rich: colour for verdicts and PASS/FAIL, prompts as Markdown, code highlighted, lines
wrapped to the terminal's width. Anywhere else it is the plain text scripts and tests read,
without one escape sequence. rich is imported only on the terminal path, so a command whose
output is piped starts without it.

rich never reads markup here: every block becomes rich `Text` (or Markdown from the bank), and
the console is made with markup, emoji and highlighting off, so a submission that prints
`[red]x[/red]` or `[link=...]` is shown as those characters.

A reader that stops early (`grader list | head -1`) closes the pipe: the rest of the output is
dropped quietly (`closed_stdout`) and the command exits as it would have.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from grader.cli.render import Block, Code, Line, Prose, Table, plain
from grader.text import printable

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def styled(stream: TextIO) -> bool:
    """Whether `stream` is a terminal that may get colour (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def emit(doc: Sequence[Block] | str, stream: TextIO | None = None) -> None:
    """Write a doc (or text) and a line break to stdout (or `stream`), styled on a terminal."""
    out = stream or sys.stdout
    try:
        if isinstance(doc, str) or not styled(out):
            out.write((doc if isinstance(doc, str) else plain(doc)) + "\n")
            out.flush()
        else:
            terminal = console(out)
            for block in doc:  # one print each: rich would join several with spaces
                terminal.print(renderable(block))
    except BrokenPipeError:
        closed_stdout(out)


def closed_stdout(stream: TextIO) -> None:
    """The reader went away: later writes, and the flush at exit, go to /dev/null instead of
    raising (Python's own advice for SIGPIPE, docs.python.org/3/library/signal.html)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # not a file descriptor (a test's capture)
        return


def console(stream: TextIO) -> Console:
    """A rich console on `stream` that reads no markup, emoji codes or "interesting" text."""
    from rich.console import Console

    return Console(file=stream, markup=False, emoji=False, highlight=False)


def renderable(block: Block) -> RenderableType:
    """One block as rich shows it; text is made printable first (a tab becomes spaces)."""
    from rich.markdown import Markdown
    from rich.padding import Padding
    from rich.syntax import Syntax
    from rich.text import Text

    if isinstance(block, Line):
        return Text.assemble(*((_safe(s.text), s.style) for s in block.spans), end="")
    if isinstance(block, Prose):
        return Padding(Markdown(_safe(block.text)), (0, 0, 0, block.indent))
    if isinstance(block, Code):
        return Syntax(_safe(block.text), "python", background_color="default", word_wrap=True)
    return _table(block)


def _table(block: Table) -> RenderableType:
    from rich.table import Table as RichTable
    from rich.text import Text

    table = RichTable(box=None, header_style="bold", pad_edge=False)
    for name in block.header:
        table.add_column(name, justify="right" if name == "points" else "left")
    for row in block.rows:
        table.add_row(*(Text(_safe(cell)) for cell in row))
    return table


def _safe(text: str) -> str:
    return printable(text.expandtabs())


@contextmanager
def progress(message: str, enabled: bool = True) -> Iterator[None]:
    """A spinner with `message` on stderr while the block runs, cleared after; only when
    stderr is a terminal (never in a pipe, a log, a test or beside --json output)."""
    if not enabled or not styled(sys.stderr):
        yield
        return
    status: Any = console(sys.stderr).status(message, spinner="dots")
    with status:
        yield
