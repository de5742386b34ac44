"""Which lines of a notebook cell are IPython syntax rather than Python, found where IPython looks.

IPython reads `!cmd` (shell), `%magic` (line magic), `x = !cmd` and `x = %magic` only at the
start of a logical line, and `%%magic` only as a cell's first line: a `!=` on a continuation line
inside brackets, or a `%` inside a triple-quoted string, is Python. So the cell is walked one
logical line at a time with the standard tokenizer (as IPython's input transformers do, without
depending on IPython), and only lines that start a logical line are looked at. None of those
forms is valid Python there, so dropping them never changes what valid Python means.

The grader cannot run them (no shell, no kernel): each dropped logical line becomes `pass` at its
indent (or a blank line), and a cell magic blanks its cell. The cell keeps its number of lines,
so every line of the joined source still maps to its cell and line, even when the cell does not
tokenize: a logical line the tokenizer cannot finish (a syntax error) keeps the rest of the cell
as written, for Python to report where it is.
"""

from __future__ import annotations

import functools
import re
import tokenize
from dataclasses import dataclass, field

#: What a logical line starts with when it is a shell command or a line magic.
ESCAPES = ("!", "%")
#: `files = !ls`, `t = %timeit f()`: an assignment whose value is a shell command or a magic.
ASSIGNED_ESCAPE = re.compile(r"[^\s=#!%][^=#]*?=\s*[!%]")
#: What may stand before that `=`: names, attributes, subscripts and tuples of them, never a
#: string or a call's arguments (`print("loss=%.3f" % loss)` is Python, not an assignment).
ASSIGNMENT_TARGET = re.compile(r"[\w.,\[\]() \t*]+")
NEWLINES = re.compile(r"\r\n|\r|\n")
LEADING_INDENT = re.compile(r"[ \t]+")
#: What only the tokenizer reads right: strings, comments and backslash continuations.
UNSURE = re.compile(r"['\"#\\]")
BRACKETS = re.compile(r"[()\[\]{}]")


@dataclass
class CellLines:
    """A code cell as Python: as many lines as the cell had, what could not run left out."""

    lines: list[str]
    dropped: list[str] = field(default_factory=list)
    cell_magic: str | None = None


def python_lines(source: str) -> CellLines:
    """The cell's lines with shell and magic lines replaced; `dropped` holds the first physical
    line of each one, `cell_magic` the `%%name` when the whole cell was a cell magic."""
    lines = strip_leading_indent(physical_lines(source))
    first = next((line for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return CellLines([""] * len(lines), cell_magic=first.split()[0])
    cell = CellLines(list(lines))
    # Only lines that look like IPython need the walk, and only up to the last of them: most
    # cells have none, and the tokenizer is the slow part.
    last = max((i for i, line in enumerate(lines) if is_escaped(line)), default=-1)
    start = 0
    while start <= last:
        start = _next_line(cell, start)
    return cell


def physical_lines(source: str) -> list[str]:
    """Lines as Python's compiler splits them (`\\n`, `\\r\\n`, `\\r`; not `str.splitlines`, which
    also splits inside string literals at form feeds and Unicode line separators)."""
    lines = NEWLINES.split(source)
    return lines[:-1] if lines and not lines[-1] else lines


def strip_leading_indent(lines: list[str]) -> list[str]:
    """IPython runs a cell whose first line is indented by removing that indent from every line
    that has it (a pasted block); Python would refuse it with an IndentationError."""
    first = next((line for line in lines if line.strip()), "")
    indent = LEADING_INDENT.match(first)
    if indent is None:
        return lines
    prefix = indent.group()
    return [line.removeprefix(prefix) for line in lines]


def is_escaped(line: str) -> bool:
    """Whether a line that starts a logical line is a shell command or a magic."""
    text = line.lstrip()
    if text.startswith(ESCAPES):
        return True
    if ASSIGNED_ESCAPE.match(text) is None:
        return False
    return ASSIGNMENT_TARGET.fullmatch(text[: text.index("=")]) is not None


def _next_line(cell: CellLines, start: int) -> int:
    """Handle the logical line at `start`; the index of the line after it."""
    line = cell.lines[start]
    text = line.lstrip()
    if not text or text.startswith("#"):
        return start + 1
    if is_escaped(line):
        end = _continued_end(cell.lines, start)
        cell.dropped.append(text.rstrip())
        indent = line[: len(line) - len(text)]
        cell.lines[start : end + 1] = [f"{indent}pass" if indent else ""] + [""] * (end - start)
        return end + 1
    return (start if ends_here(line) else logical_end(cell.lines, start)) + 1


def _continued_end(lines: list[str], start: int) -> int:
    """The last line of a shell or magic line continued with backslashes (as IPython reads it)."""
    end = start
    while lines[end].endswith("\\") and end + 1 < len(lines):
        end += 1
    return end


def ends_here(line: str) -> bool:
    """Whether a logical line surely ends on this line, without the tokenizer (the common case,
    and many times faster): no string or comment could hide a bracket, no backslash continues
    it, and its brackets close in order."""
    if UNSURE.search(line):
        return False
    depth = 0
    for char in BRACKETS.findall(line):
        depth += 1 if char in "([{" else -1
        if depth < 0:
            return False
    return depth == 0


def logical_end(lines: list[str], start: int) -> int:
    """The index of the last physical line of the Python logical line starting at `start`
    (brackets, triple-quoted strings and backslashes continue it); the cell's last line when
    the tokenizer cannot finish it, so a syntax error stays where Python will report it."""
    following = (lines[index] + "\n" for index in range(start, len(lines)))
    readline = functools.partial(next, following, "")  # "" is the end, as a file's readline
    try:
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.NEWLINE:
                return start + token.end[0] - 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return len(lines) - 1
