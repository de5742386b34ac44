"""A student's file as Python source: a `.py` as it is, an `.ipynb` as its code cells in order.

Notebook shell lines (`!pip ...`) and magics (`%matplotlib`, `%%time` cells) cannot run in a
sandbox; they are dropped, each with a note, and every line keeps its cell number so a failure
can name the cell.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.errors import BadSubmission

MAX_SUBMISSION_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Source:
    """Python text to run, with notebook cell spans as [first_line, last_line, cell_number]."""

    text: str
    cells: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_submission(path: Path) -> Source:
    """Read and convert a submission; `BadSubmission` with the reason when it cannot be used."""
    if path.suffix not in (".py", ".ipynb"):
        raise BadSubmission(f"{path}: submit a .py or .ipynb file")
    return source_from_bytes(_read_capped(path), path.name)


def source_from_bytes(data: bytes, name: str) -> Source:
    """An uploaded file's bytes as a Source; the name's suffix says .py or .ipynb."""
    if len(data) > MAX_SUBMISSION_BYTES:
        raise BadSubmission(
            f"{name}: larger than {MAX_SUBMISSION_BYTES // 1024} KiB; submit only your code"
        )
    if name.endswith(".ipynb"):
        return notebook_source(data, name)
    if not name.endswith(".py"):
        raise BadSubmission(f"{name}: submit a .py or .ipynb file")
    return Source(_decode(data, name))


def _read_capped(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SUBMISSION_BYTES + 1)
    except OSError as exc:
        raise BadSubmission(f"{path}: cannot read the file ({exc.strerror})") from exc
    if len(data) > MAX_SUBMISSION_BYTES:
        raise BadSubmission(
            f"{path}: larger than {MAX_SUBMISSION_BYTES // 1024} KiB; submit only your code"
        )
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadSubmission(f"{name}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


def notebook_source(data: bytes, name: str) -> Source:
    """Code cells in order; the cell number (1-based, counting code cells) of every line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old notebooks lack cell ids; nbformat adds them
            notebook = nbformat.reads(_decode(data, name), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises JSON, validation and version errors alike
        raise BadSubmission(f"{name}: not a Jupyter notebook ({_first_line(exc)})") from exc
    lines: list[str] = []
    cells: list[list[int]] = []
    notes: list[str] = []
    code_cells = [c for c in notebook.cells if c.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        kept = _cell_lines(str(cell.source), number, notes)
        first = len(lines) + 1
        lines.extend(kept or ["pass"])
        cells.append([first, len(lines), number])
    return Source("\n".join(lines) + "\n", cells, notes)


def _cell_lines(source: str, number: int, notes: list[str]) -> list[str]:
    """The cell's lines with shell and magic lines blanked, and one note for the cell saying how
    many were dropped (one note per cell, however many lines: a report stays the size of the
    notebook's structure, not of its text)."""
    if source.lstrip().startswith("%%"):
        notes.append(f"cell {number}: cell magic dropped (it cannot run in the grader)")
        return []
    kept: list[str] = []
    dropped: list[str] = []
    for line in source.splitlines():
        if line.lstrip().startswith(("!", "%")):
            dropped.append(line.strip())
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass" if indent else "")
            continue
        kept.append(line)
    if dropped:
        count = f"{len(dropped)} shell/magic lines" if len(dropped) > 1 else "1 shell/magic line"
        notes.append(
            f"cell {number}: dropped {count}, first `{dropped[0][:60]}` (they do not run in "
            "the grader)"
        )
    return kept


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
