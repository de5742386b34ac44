"""A code item's starter as a file a student opens: a `.py`, or a Jupyter notebook.

Both hold the item's `starter:` code unchanged, so the file grades exactly as the starter does
(`grader check` reads a notebook's code cells in order; the `.py` header is comments only). The
notebook adds the task (title, prompt, the names to define) as a markdown cell above the code.
"""

from __future__ import annotations

from pathlib import Path

from grader.errors import BadInput
from grader.models import CodeItem, Item

SUFFIXES = (".py", ".ipynb")


def code_item(item: Item) -> CodeItem:
    """The item when it has a starter; `BadInput` naming how to answer it otherwise."""
    if isinstance(item, CodeItem):
        return item
    how = {"predict": '"WHAT IT PRINTS"', "numeric": "NUMBER"}.get(item.kind, "LETTER")
    answer = f"grader submit {item.id} --choice" if item.student else f"grader answer {item.id}"
    raise BadInput(
        f"{item.id!r} is an item of kind {item.kind}, with no starter file; "
        f"answer it with `{answer} {how}`"
    )


def output_path(item: CodeItem, output: Path | None, notebook: bool) -> Path:
    """`ID.py` (`ID.ipynb` with `notebook`) in the working folder, or `output`: a `.py` or an
    `.ipynb`, the only files `grader check` reads."""
    if output is None:
        return Path(f"{item.id}{'.ipynb' if notebook else '.py'}")
    if output.suffix not in SUFFIXES:
        raise BadInput(f"{output}: name it .py or .ipynb, the files `grader check` reads")
    if notebook and output.suffix != ".ipynb":
        raise BadInput(f"{output}: --notebook writes a notebook; name it {output.stem}.ipynb")
    return output


def starter_text(item: CodeItem, path: Path) -> str:
    """The file's text: a notebook when `path` ends in `.ipynb`, else Python source."""
    if path.suffix == ".ipynb":
        return starter_notebook(item, path.name)
    header = f"# {item.title} ({item.id})\n# Check it with: grader check {item.id} {path.name}\n\n"
    return header + item.starter


def task_markdown(item: CodeItem, name: str) -> str:
    """The notebook's first cell: what to write and how to check it."""
    contract = [
        f"- `{c.signature}`" + (f": {c.description}" if c.description else "")
        for c in item.contract
    ]
    return "\n".join(
        [
            f"# {item.title}",
            "",
            item.prompt.rstrip(),
            "",
            "**You define:**",
            "",
            *contract,
            "",
            f"Check it with `grader check {item.id} {name}` (only the code cells run).",
        ]
    )


def starter_notebook(item: CodeItem, name: str) -> str:
    """A minimal valid nbformat 4 notebook: the task as markdown, the starter as code. Cell ids
    are fixed so the same item always writes the same file."""
    import nbformat
    from nbformat import v4

    notebook = v4.new_notebook(  # type: ignore[no-untyped-call]
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    notebook.cells = [
        v4.new_markdown_cell(task_markdown(item, name), id="task"),  # type: ignore[no-untyped-call]
        v4.new_code_cell(item.starter.rstrip("\n"), id="starter"),  # type: ignore[no-untyped-call]
    ]
    nbformat.validate(notebook)
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    return text + "\n"


def write_starter(item: CodeItem, path: Path, *, force: bool) -> None:
    """Write the file; an existing one is kept unless `force` (a student's work is in it)."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it (your changes in it are lost)")
    try:
        path.write_text(starter_text(item, path), encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the file ({exc.strerror})") from exc
