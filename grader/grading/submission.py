"""A student's file as Python source: a `.py` as it is, an `.ipynb` as its code cells in order.

Notebook shell lines (`!pip ...`) and magics (`%matplotlib`, `%%time` cells) cannot run in a
sandbox; they are dropped where IPython would read them (`grader.grading.ipython_syntax`), each
cell with one note, and every line keeps its cell so a failure can name the cell. Cells are
numbered as a student counts them in Jupyter: the cell's position among ALL cells, markdown and
raw ones included, from 1 at the top (execution counts change with every run, so they cannot
name a cell). Files are UTF-8, with or without a byte-order mark (Windows editors write one).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import BadSubmission
from grader.grading.ipython_syntax import python_lines

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
        return data.decode("utf-8-sig")  # a leading byte-order mark is not part of the text
    except UnicodeDecodeError as exc:
        raise BadSubmission(f"{name}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


def notebook_source(data: bytes, name: str) -> Source:
    """Code cells in order; every line's cell number counts all cells, as Jupyter shows them."""
    import nbformat  # with jsonschema, a tenth of a second: only a notebook needs it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old notebooks lack cell ids; nbformat adds them
            notebook = nbformat.reads(_decode(data, name), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises JSON, validation and version errors alike
        raise BadSubmission(f"{name}: not a Jupyter notebook ({_first_line(exc)})") from exc
    lines: list[str] = []
    cells: list[list[int]] = []
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        kept = _cell_lines(str(cell.source), number, notes)
        first = len(lines) + 1
        lines.extend(kept or ["pass"])
        cells.append([first, len(lines), number])
    return Source("\n".join(lines) + "\n", cells, notes)


def _cell_lines(source: str, number: int, notes: list[str]) -> list[str]:
    """The cell's lines as Python, and one note for the cell saying what was dropped (one note
    per cell, however many lines: a report stays the size of the notebook's structure, not of
    its text)."""
    cell = python_lines(source)
    if cell.cell_magic is not None:
        notes.append(
            f"cell {number}: cell magic `{cell.cell_magic[:40]}` dropped with its cell "
            "(it cannot run in the grader)"
        )
    elif cell.dropped:
        count = len(cell.dropped)
        what = f"{count} shell/magic lines" if count > 1 else "1 shell/magic line"
        notes.append(
            f"cell {number}: dropped {what}, first `{cell.dropped[0][:60]}` (they do not run in "
            "the grader)"
        )
    return cell.lines


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
