"""The student bank: what students may have of a course bank, written as a bank the same `grader`
loads (`grader --bank DIR list`, `show`, `check`), with nothing that gives a grade away.

Kept: prompts, the choices' text, snippets, starter code, contracts, limits, the public checks
(not `hidden`, their expectation written in the item itself) with the data files their items
name, and the item schema. Left out: keys, tolerances, feedback, explanations, `verify` snippets,
hidden checks, checks whose expectation comes from the reference run (`from: reference`) or is
held out under solutions/ (`accuracy` labels), and solutions/ itself.

Each item is written from its validated model, never copied from its file, so comments in the
YAML (which may discuss the key) and fields this module does not know to keep never travel.

An item that varies is written as its template (its `params`, `shuffle` and the templates of the
fields kept), so `grader show ID --seed S` on the student bank shows the variant the course
server grades for seed S; the same fields are left out of the template as of a static item (a
key's template is a key), and the options' ids too (an author may name an option for being
right). The template is loaded again as a student item before anything is written.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from grader.bank import Bank
from grader.errors import BadInput, BankError
from grader.models import Check, CodeItem, Item, McqItem, NumericItem, PredictItem, item_json_schema

SCHEMA_FILE = "question.schema.json"
README_FILE = "README.md"
#: Fields written first, in this order, so a student bank's file reads like an authored one.
FIRST = ("schema_version", "id", "kind", "student", "title")
#: Fields no student item keeps, whatever its kind.
SECRET = {"explanation"}
#: And per kind: the key and what proves or explains it.
SECRET_BY_KIND: dict[type[Any], set[str]] = {
    McqItem: {"answer", "verify"},
    NumericItem: {"answer", "tolerance"},
}
HEADER = (
    "# A student bank's item (`grader bank export --student`): it has no key; answers are\n"
    "# graded on the course server (`grader submit`).\n"
)
PREDICT_NOTE = (
    "# The key is what the snippet prints: the course server computes it by running the snippet.\n"
)
README = """\
# Student bank

Exported with `grader bank export --student` from the course's question bank. It holds what
students may have: prompts, choices, snippets, starter code, contracts, the public checks of the
code exercises and the data files they use, and the item schema (`question.schema.json`). It
holds no keys, tolerances, feedback, explanations, hidden checks or solutions: those stay on the
course server, which grades what you submit.

- `grader --bank DIR list` and `grader --bank DIR show ID`: the items.
- `grader --bank DIR check ID FILE`: runs a code exercise's public checks on your machine. Your
  grade comes from the course server: `grader submit ID FILE`.
- Multiple-choice, numeric and predict items: `grader submit ID --choice ANSWER`. A predict
  item's key is what its snippet prints; the course server computes it by running the snippet.
"""


def export_student_bank(bank: Bank, target: Path) -> list[Path]:
    """Write the student bank of `bank` under `target` (new or empty); the files written.

    Refuses a bank with problems (a broken file might hold a key in a field the export would
    not recognise) and a target inside the bank (its items would join the course bank)."""
    if bank.issues:
        raise BankError(bank.issues)
    _check_target(bank, target)
    # Everything that can be refused is read first, so a refusal leaves no half-written bank.
    items = {item_id: student_item(item) for item_id, item in sorted(bank.items.items())}
    data = data_files(bank, [item for item in items.values() if isinstance(item, CodeItem)])
    written = [_write_item(target, _item_path(bank, key), item) for key, item in items.items()]
    written += [_write(target / name, content) for name, content in data.items()]
    written.append(_write(target / SCHEMA_FILE, json.dumps(item_json_schema(), indent=2) + "\n"))
    written.append(_write(target / README_FILE, README))
    return written


def _check_target(bank: Bank, target: Path) -> None:
    """A target that is a file, holds files, or lies in the bank would mix the two banks."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput(f"{target} exists and is not an empty folder; give a new or empty folder")
    root, where = bank.root.resolve(), target.resolve()
    if where == root or root in where.parents:
        raise BadInput(f"{target} is inside the bank {bank.root}; export to a folder outside it")


def student_item(item: Item) -> Item:
    """The item as a student bank holds it: `student: true`, no key, feedback or explanation,
    and (for code) only the public checks. Validated again, so it loads as written."""
    if item._source is not None:
        return _student_template(item)
    drop = SECRET | SECRET_BY_KIND.get(type(item), set())
    fields = item.model_dump(by_alias=True, exclude=drop) | {"student": True}
    if isinstance(item, McqItem):
        fields["choices"] = [{"text": choice.text} for choice in item.choices]
    if isinstance(item, CodeItem):
        fields["checks"] = [c.model_dump(by_alias=True) for c in public_checks(item)]
        fields["data"] = [name for name in item.data if name not in item.held_out]
        fields.pop("held_out", None)
    return type(item).model_validate(fields)


def _student_template(item: Item) -> Item:
    """A varying item's template as a student bank holds it, loaded as a student item (its
    variant of seed 0, the template in `_source`). Which checks and data files stay is read
    from the item rendered, whose checks and files are the template's, in the same order."""
    from grader.bank.templated import validate_template

    source = dict(item._source or {})
    for key in SECRET | SECRET_BY_KIND.get(type(item), set()):
        source.pop(key, None)
    source["student"] = True
    if isinstance(item, McqItem):
        source["choices"] = [_student_choice(choice) for choice in source["choices"]]
    if isinstance(item, CodeItem):
        kept = {check.name for check in public_checks(item)}
        source["checks"] = [
            c for c, n in zip(source["checks"], item.checks, strict=True) if n.name in kept
        ]
        source["data"] = [
            d
            for d, n in zip(source.get("data", []), item.data, strict=True)
            if n not in item.held_out
        ]
        source.pop("held_out", None)
    student, issues = validate_template(f"{item.id} (student)", item.id, source, "")
    if student is None:
        raise BankError(issues)
    return student


def _student_choice(choice: dict[str, Any]) -> dict[str, Any]:
    """An option's text, and whether it keeps its place when options are shuffled."""
    return {key: choice[key] for key in ("text", "fixed") if key in choice}


def public_checks(item: CodeItem) -> list[Check]:
    """The checks a student may run: the rest stay on the course server. An item with none
    cannot be checked locally at all, so the author is asked to make one public."""
    kept = [check for check in item.checks if is_public(check)]
    if not kept:
        raise BadInput(
            f"{item.id}: every check is hidden or needs the reference or held-out labels; "
            "a student bank needs at least one public check: make one check public"
        )
    return kept


def is_public(check: Check) -> bool:
    """Not hidden, and its expectation is in the item itself: not the reference run's value,
    not labels kept under solutions/ (the only two expectations read from outside the item)."""
    return not check.hidden and not check.uses_reference() and check.expect.accuracy is None


def _item_path(bank: Bank, item_id: str) -> Path:
    """Where the item sits in the course bank, so the student bank has the same layout."""
    try:
        return bank.paths[item_id].relative_to(bank.root).with_suffix(".yaml")
    except ValueError:  # a file named on its own, outside the bank's folder
        return Path(f"{item_id}.yaml")


def _write_item(target: Path, relative: Path, item: Item) -> Path:
    """One item file: the schema line editors read, a note on where its key is, the fields."""
    schema = "../" * (len(relative.parts) - 1) + SCHEMA_FILE
    note = PREDICT_NOTE if isinstance(item, PredictItem) else ""
    header = f"# yaml-language-server: $schema={schema}\n{HEADER}{note}"
    return _write(target / relative, header + item_yaml(item))


def item_yaml(item: Item) -> str:
    """The item's fields as YAML (a varying item's: its template): defaults and unset fields
    left out, multi-line text as block scalars so prompts and code read as they were written."""
    if item.varies and item._source is not None:
        fields = item._source
    else:
        fields = item.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        )
    ordered = {key: fields[key] for key in FIRST if key in fields} | fields
    yaml = YAML(typ="rt")
    yaml.width = 4096  # folded plain scalars would end lines in spaces
    out = io.StringIO()
    yaml.dump(_blocks(ordered), out)
    return out.getvalue()


def _blocks(value: Any) -> Any:
    """Multi-line strings as literal blocks (`|`), lists of plain values on one line (`[2, 5]`),
    whole points as whole numbers: the style authors write, so the file reads the same."""
    if isinstance(value, dict):
        return {key: _points(v) if key == "points" else _blocks(v) for key, v in value.items()}
    if isinstance(value, list):
        seq = CommentedSeq(_blocks(v) for v in value)
        if all(not isinstance(v, dict | list) and "\n" not in str(v) for v in value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def _points(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def data_files(bank: Bank, items: list[CodeItem]) -> dict[str, bytes]:
    """The data files the exported code items name, as `data/<name>`, from the bank's data/
    folder only: a name that climbs out of it could copy a solution into the student bank."""
    folder = (bank.root / "data").resolve()
    files: dict[str, bytes] = {}
    for item in items:
        for name in item.data:
            if folder not in (folder / name).resolve().parents:
                raise BadInput(f"{item.id}: data file {name!r} is outside the bank's data/ folder")
        files |= bank.data_files(item)
    return files


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
