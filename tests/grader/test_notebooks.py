"""Notebooks read as IPython reads them, cells numbered as Jupyter shows them, and files saved
with a byte-order mark.

Shell and magic lines count only at the start of a logical line; every line of the joined source
maps back to its cell (its position among all cells, markdown included) and its line there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.bank import load_item
from grader.grading.code import grade_code
from grader.grading.ipython_syntax import python_lines
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source, notebook_source, source_from_bytes
from grader.models import CodeItem, Verdict
from sandbox.fake import FakeSandbox

ITEM = """\
schema_version: 1
id: differ
kind: code
title: Differ
prompt: Define differ(a, b).
difficulty: easy
explanation: Compare them.
starter: "def differ(a, b): ..."
contract: [{name: differ, signature: "differ(a, b) -> bool"}]
limits: {wall_s: 10}
checks:
  - name: loads
    message: Your file runs.
    expect: {no_error: true}
  - name: differs
    message: differ(1, 2) is True.
    call: {function: differ, args: [1, 2]}
    expect: {value: true}
  - name: same
    message: differ(3, 3) is False.
    call: {function: differ, args: [3, 3]}
    expect: {value: false}
"""

#: Correct code that breaks its comparison over two lines inside brackets (black's style).
DIFFER = "def differ(a, b):\n    return (\n        a\n        != b\n    )\n"


def code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []} | {
        "source": source
    }


def text_cell(kind: str, source: str) -> dict[str, Any]:
    return {"cell_type": kind, "metadata": {}, "source": source}


def notebook_bytes(*cells: dict[str, Any], bom: bool = False) -> bytes:
    notebook = {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return (b"\xef\xbb\xbf" if bom else b"") + json.dumps(notebook).encode()


@pytest.fixture
def item(tmp_path: Path) -> CodeItem:
    path = tmp_path / "differ.yaml"
    path.write_text(ITEM)
    loaded, issues = load_item(path)
    assert isinstance(loaded, CodeItem), issues
    return loaded


@pytest.fixture
def store(tmp_path: Path) -> ReferenceStore:
    (tmp_path / "solutions" / "differ").mkdir(parents=True)
    (tmp_path / "solutions" / "differ" / "reference.py").write_text(DIFFER)
    return ReferenceStore(FakeSandbox.local(), tmp_path / "solutions", tmp_path / "cache")


def cell_of(line: int | None, cells: list[list[int]]) -> tuple[int, int]:
    """(cell, line in it) as the harness's runner names a place (it runs in the sandbox only)."""
    found = [
        (number, line - first + 1) for first, last, number in cells if first <= (line or 0) <= last
    ]
    assert len(found) == 1, (line, cells)
    return found[0]


def graded(item: CodeItem, store: ReferenceStore, source: Source) -> Verdict:
    return grade_code(item, source, FakeSandbox.local(), store).verdict


# What is IPython syntax: (cell source, the lines kept, the dropped lines' first lines).
READINGS = [
    ("x = (1\n     != 2)", ["x = (1", "     != 2)"], []),
    ("x = [1,\n%2]", ["x = [1,", "%2]"], []),
    ('s = """\n!not shell\n%not magic\n"""', ['s = """', "!not shell", "%not magic", '"""'], []),
    ("y = 1 + \\\n    !0", ["y = 1 + \\", "    !0"], []),
    ("!pip install torch\nimport math", ["", "import math"], ["!pip install torch"]),
    ("%matplotlib inline\nx = 1", ["", "x = 1"], ["%matplotlib inline"]),
    ("files = !ls *.py\nn = 1", ["", "n = 1"], ["files = !ls *.py"]),
    ("t = %timeit f()\n%time y = f()", ["", ""], ["t = %timeit f()", "%time y = f()"]),
    ("for f in fs:\n    !echo {f}", ["for f in fs:", "    pass"], ["!echo {f}"]),
    ("!pip install a \\\n    b\nx = 1", ["", "", "x = 1"], ["!pip install a \\"]),
    ("if a != b:\n    x = a % b", ["if a != b:", "    x = a % b"], []),
    ("    a = 1\n    !ls\n    b = a", ["a = 1", "", "b = a"], ["!ls"]),
    ("x = 1\r\ny = 2\rz = 3", ["x = 1", "y = 2", "z = 3"], []),
    ("s = 'a\x0cb\u2028c'", ["s = 'a\x0cb\u2028c'"], []),
    ('print("loss=%.3f" % 1.0); x = 1', ['print("loss=%.3f" % 1.0); x = 1'], []),
    ('exec("top1 = %s" % "None")', ['exec("top1 = %s" % "None")'], []),
    ("a.b[0], c = !ls", [""], ["a.b[0], c = !ls"]),
]
READING_IDS = [
    "ne-continues-brackets",
    "percent-continues-brackets",
    "inside-triple-quotes",
    "after-backslash",
    "shell",
    "line-magic",
    "shell-assigned",
    "magic-assigned-and-time",
    "shell-in-a-block",
    "shell-continued",
    "operators-mid-line",
    "pasted-indented-cell",
    "windows-and-old-mac-newlines",
    "separators-inside-a-string",
    "percent-format-after-an-equals-in-a-string",
    "percent-format-in-a-call",
    "assigned-to-attributes-and-a-tuple",
]


@pytest.mark.parametrize(("source", "kept", "dropped"), READINGS, ids=READING_IDS)
def test_ipython_syntax_only_at_the_start_of_a_logical_line(
    source: str, kept: list[str], dropped: list[str]
) -> None:
    cell = python_lines(source)
    assert (cell.lines, cell.dropped, cell.cell_magic) == (kept, dropped, None)


@pytest.mark.parametrize(
    "source",
    ["%%time\nx = 1\ny = 2", "\n  %%capture out\nx = 1\ny = 2"],
    ids=["first", "after-blank"],
)
def test_a_cell_magic_blanks_its_cell_and_keeps_its_lines(source: str) -> None:
    cell = python_lines(source)
    assert cell.lines == [""] * len(source.splitlines()) and cell.cell_magic is not None


def test_an_untokenizable_cell_is_kept_from_where_the_tokenizer_stopped() -> None:
    cell = python_lines("!ls\nprint('hi'\n!pwd\nx = 1")
    assert cell.lines == ["", "print('hi'", "!pwd", "x = 1"] and cell.dropped == ["!ls"]


def test_a_notebook_with_a_comparison_across_lines_grades_as_the_py_does(
    item: CodeItem, store: ReferenceStore
) -> None:
    notebook = notebook_source(notebook_bytes(code_cell(DIFFER)), "work.ipynb")
    assert notebook.notes == []
    assert graded(item, store, notebook) is graded(item, store, Source(DIFFER)) is Verdict.PASSED


def test_cells_are_numbered_among_all_cells_as_jupyter_shows_them() -> None:
    data = notebook_bytes(
        text_cell("markdown", "# Task"),
        code_cell("!pip install torch\nimport math"),
        text_cell("raw", "notes"),
        text_cell("markdown", "## Answer"),
        code_cell("x = 1\n%matplotlib inline"),
    )
    source = notebook_source(data, "work.ipynb")
    assert source.cells == [[1, 2, 2], [3, 4, 5]]
    assert [note.split(":")[0] for note in source.notes] == ["cell 2", "cell 5"]


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        ("def f(:\n    pass", (3, 1)),  # invalid syntax on the cell's first line
        ("x = 1\ny = (2,\n!ls\n", (3, 2)),  # a bracket never closed: the tokenizer gives up
        ('x = 1\ns = """\n!ls', (3, 2)),  # a string never closed
    ],
    ids=["invalid-syntax", "unclosed-bracket", "unclosed-string"],
)
def test_a_cell_that_does_not_tokenize_still_maps_its_lines(
    broken: str, where: tuple[int, int]
) -> None:
    data = notebook_bytes(
        code_cell("!nvidia-smi\na = 1"),
        text_cell("markdown", "Next:"),
        code_cell(broken),
        code_cell("%time b = 2\nc = 3"),
    )
    source = notebook_source(data, "work.ipynb")
    with pytest.raises(SyntaxError) as raised:
        compile(source.text, "submission.py", "exec")
    assert cell_of(raised.value.lineno, source.cells) == where
    assert source.cells[-1][2] == 4 and source.notes[-1].startswith("cell 4: dropped 1")


def test_a_cell_magic_note_names_the_magic_and_the_cell() -> None:
    data = notebook_bytes(text_cell("markdown", "# Go"), code_cell("%%time\ntrain()"))
    source = notebook_source(data, "work.ipynb")
    assert source.notes == [
        "cell 2: cell magic `%%time` dropped with its cell (it cannot run in the grader)"
    ]
    assert source.text == "\n\n" and source.cells == [[1, 2, 2]]


def test_a_py_saved_with_a_byte_order_mark_is_graded(item: CodeItem, store: ReferenceStore) -> None:
    source = source_from_bytes(b"\xef\xbb\xbf" + DIFFER.encode(), "work.py")
    assert source.text == DIFFER
    assert graded(item, store, source) is Verdict.PASSED


def test_a_notebook_saved_with_a_byte_order_mark_is_read() -> None:
    source = notebook_source(notebook_bytes(code_cell("x = 1"), bom=True), "work.ipynb")
    assert source.text == "x = 1\n" and source.cells == [[1, 1, 1]]
