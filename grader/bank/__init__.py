"""The question bank: YAML files under `questions/` turned into validated items.

Every problem is reported with `file:line:column`, the field path and the fix, and loading goes on
past a bad file so `grader validate` shows all problems of all files in one run.

An item with `params:` (or a shuffled mcq) is a template (grader/variants/, loaded by
grader/bank/templated.py): the bank holds its variant of seed 0, `Bank.variant(id, seed)` renders
another, and a fixed alias (`{id: old-id, params: {...}}`) names the one variant of those values,
whatever the seed.

Parsing (ruamel.yaml) and the checks of an item's Python are imported where a file is parsed:
`grader answer` grades an item the bank cache (grader/bank_cache.py) already holds, and builds a
`Bank` of it without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from grader.errors import BadInput, BankError, BankIssue, UnknownQuestion
from grader.models.items import SCHEMA_VERSION
from grader.models.registry import KIND_MODELS, item_model

if TYPE_CHECKING:
    from pydantic import BaseModel

    from grader.bank_cache import ItemCache
    from grader.models import CodeItem, Item

SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 256 * 1024


#: The most a data file given to runs may hold.
DATA_CAP = 16 * 1024 * 1024


def default_bank_dir() -> Path:
    """`$GRADER_BANK`, else `./questions` when it exists, else the home's `questions/`."""
    from grader.settings import GraderSettings

    return GraderSettings().bank


@dataclass
class Bank:
    """Items by id, with the file each came from and the problems of the files that failed.

    `root` is the folder the bank was loaded from (the parent of the first file, when files were
    named): an item's data files are read from its `data/` folder, never from another bank's.
    `aliases` maps an item's former ids (its `aliases:`) to its id; `fixed` keeps the fixed
    variants rendered so far, by the alias that names each."""

    root: Path = field(default_factory=Path.cwd)
    items: dict[str, Item] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    issues: list[BankIssue] = field(default_factory=list)
    broken: dict[str, list[BankIssue]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, Item] = field(default_factory=dict)

    def item_of(self, question: str) -> str:
        """The id of the item `question` names: a former id (plain, or a fixed variant's) is its
        item's; any other id is itself (known to the bank or not)."""
        return self.aliases.get(question, question)

    def names_of(self, question: str) -> frozenset[str]:
        """Every id that names the item `question` names: its id, its former ids and its fixed
        variants' ids. What guards one of them (an assignment's reveal rules, practice closed)
        guards them all, or the same item's key would be one rename away."""
        item_id = self.item_of(question)
        return frozenset({item_id, *(a for a, owner in self.aliases.items() if owner == item_id)})

    def get(self, item_id: str) -> Item:
        """The item (by its id or a former id; a varying item's variant of seed 0, a fixed
        alias's fixed variant), or `UnknownQuestion` / `BankError` when its file is invalid."""
        if item_id in self.items:
            return self.items[item_id]
        if item_id in self.aliases:
            return self._fixed(item_id) or self.items[self.aliases[item_id]]
        if item_id in self.broken:
            raise BankError(self.broken[item_id])
        raise UnknownQuestion(
            f"unknown question id {item_id!r}; `grader list` shows the ids in the bank"
        )

    def variant(self, item_id: str, seed: int | None) -> Item:
        """The item rendered for `seed`: `get(item_id)` itself for seed None, a fixed alias or
        an item that does not vary; the errors of `get` for an unknown id."""
        item = self.get(item_id)
        if seed is None or not item.varies or (item.variant and item.variant.seed == seed):
            return item
        from grader.variants import materialise

        return materialise(item, seed)

    def _fixed(self, alias_id: str) -> Item | None:
        """The fixed variant `alias_id` names (rendered once), or None for a plain alias."""
        if alias_id in self.fixed:
            return self.fixed[alias_id]
        item = self.items[self.aliases[alias_id]]
        alias = item.fixed_alias(alias_id)
        if alias is None:
            return None
        from dataclasses import replace

        from grader.variants import materialise
        from grader.variants.params import fixed_values

        fixed = materialise(item, None, fixed_values(item.params, alias.params))
        if fixed.variant is not None:
            fixed._variant = replace(fixed.variant, alias=alias_id)
        self.fixed[alias_id] = fixed
        return fixed

    def data_files(self, item: CodeItem) -> dict[str, bytes]:
        """The files a code item names under the bank's data/ folder, as `data/<name>`."""
        folder = self.root / "data"
        files = {}
        for name in item.data:
            path = folder / name
            if not path.is_file() or path.stat().st_size > DATA_CAP:
                raise BadInput(f"{item.id}: data file {path} is missing or over 16 MiB")
            files[f"data/{name}"] = path.read_bytes()
        return files


def item_files(paths: Sequence[Path]) -> list[Path]:
    """The YAML files named, or found under the folders named, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise BadInput(f"no such file or folder: {path}; give a question file or folder")
    return files


def load_bank(paths: Sequence[Path] | None = None, cache: ItemCache | None = None) -> Bank:
    """Load every item under the given files or folders (default: the bank folder); with a
    `cache` (grader/bank_cache.py), files parsed before are not parsed again."""
    paths = list(paths or [default_bank_dir()])
    bank = Bank(root=paths[0] if paths[0].is_dir() else paths[0].parent)
    for path in item_files(paths):
        item, issues = cache.load(path, load_item) if cache else load_item(path)
        if item is None:
            bank.issues.extend(issues)
            bank.broken[path.stem] = issues
            continue
        _add(bank, item, path)
    _add_aliases(bank)
    return bank


def _add(bank: Bank, item: Item, path: Path) -> None:
    if item.id in bank.items:
        first = bank.paths[item.id]
        issue = BankIssue(
            str(path),
            1,
            1,
            "id",
            f"duplicate id {item.id!r}, also defined in "
            f"{first}; ids must be unique across the bank: rename one",
        )
        bank.issues.append(_at_field(issue, path, ("id",)))
        return
    bank.items[item.id] = item
    bank.paths[item.id] = path


def _add_aliases(bank: Bank) -> None:
    """Each item's former ids, in file order; one that is another item's id or alias, or the
    name of a file with problems (or repeats), is an issue at it and finds nothing."""
    for item_id, item in sorted(bank.items.items(), key=lambda pair: str(bank.paths[pair[0]])):
        for index, alias in enumerate(item.alias_ids):
            taken = _alias_taken(bank, alias)
            if taken is None:
                bank.aliases[alias] = item_id
                continue
            path = bank.paths[item_id]
            issue = BankIssue(str(path), 1, 1, f"aliases.{index}", f"{taken}; remove it")
            bank.issues.append(_at_field(issue, path, ("aliases", index)))


def _alias_taken(bank: Bank, alias: str) -> str | None:
    """What already answers to `alias`, or None."""
    if alias in bank.items:
        return f"alias {alias!r} is the id of {alias!r} ({bank.paths[alias]})"
    if alias in bank.aliases:
        owner = bank.aliases[alias]
        return f"alias {alias!r} is already an alias of {owner!r} ({bank.paths[owner]})"
    if alias in bank.broken:
        return f"alias {alias!r} is the name of an item file with problems ({alias}.yaml)"
    return None


def _at_field(issue: BankIssue, path: Path, loc: tuple[str | int, ...]) -> BankIssue:
    from grader.bank.yamlsource import locate, parse_yaml

    document, _ = parse_yaml(str(path), path.read_text(encoding="utf-8"))
    line, column = locate(document, loc)
    return BankIssue(issue.file, line, column, issue.field, issue.message)


def load_item(path: Path) -> tuple[Item | None, list[BankIssue]]:
    """Parse and validate one file; (item, []) or (None, every issue found)."""
    from grader.bank.yamlsource import parse_yaml

    name = str(path)
    text, issue = _read(path)
    if issue:
        return None, [issue]
    document, issues = parse_yaml(name, text)
    if issues:
        return None, issues
    return validate_document(name, path.stem, document, text)


def _read(path: Path) -> tuple[str, BankIssue | None]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return "", BankIssue(str(path), 1, 1, "", f"larger than {MAX_FILE_BYTES} bytes")
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as exc:
        return "", BankIssue(str(path), 1, 1, "", f"not UTF-8 text ({exc.reason}); save as UTF-8")
    except OSError as exc:
        return "", BankIssue(str(path), 1, 1, "", f"cannot read the file ({exc.strerror})")


def validate_document(
    name: str, stem: str, document: Any, text: str = ""
) -> tuple[Item | None, list[BankIssue]]:
    """Check a parsed document against its kind's model, then the cross-field rules and the
    Python it holds (`text`, the file's, places a syntax error inside a block scalar); a
    template (`varies`) first gets its params and templates checked and is rendered."""
    from grader.bank.yamlsource import plain

    if not isinstance(document, dict):
        return None, [located(name, document, (), "an item file must be a YAML mapping of fields")]
    header = _header_issues(document)
    if header:
        return None, [located(name, document, loc, message) for loc, message in header]
    if varies(document):
        from grader.bank.templated import validate_template

        return validate_template(name, stem, document, text)
    return checked_item(name, stem, document, plain(document), text)


def varies(document: dict[str, Any]) -> bool:
    """Whether an item document is a template: it has params, or shuffles its options."""
    params = document.get("params")
    return (isinstance(params, dict) and bool(params)) or document.get("shuffle") is True


def checked_item(
    name: str,
    stem: str,
    document: Any,
    data: dict[str, Any],
    text: str = "",
    note: Callable[[tuple[str | int, ...]], str] | None = None,
) -> tuple[Item | None, list[BankIssue]]:
    """Validate `data` (the document's plain values, or a variant's rendering of them) with its
    kind's model and rules; issues are located in `document`, each message ending with
    `note(loc)` (what a variant's problem adds: which variant)."""
    from grader.bank.compiled import syntax_issues

    def issue(loc: tuple[str | int, ...], message: str) -> BankIssue:
        return located(name, document, loc, message + (note(loc) if note else ""))

    model = item_model(document["kind"])
    try:
        item: Item = model.model_validate(data)  # type: ignore[assignment]
    except ValidationError as exc:
        return None, [issue(_loc(e), _message(e, model)) for e in exc.errors()]
    problems = item.problems() + item.fixed_problems()
    if item.id != stem:
        problems.append(
            (
                ("id",),
                f"id {item.id!r} differs from the file name {stem!r}; "
                f"rename the file to {item.id}.yaml or change the id",
            )
        )
    found = [issue(loc, message) for loc, message in problems]
    found += syntax_issues(name, text, document, item)
    return (None, found) if found else (item, [])


def located(name: str, document: Any, loc: tuple[str | int, ...], message: str) -> BankIssue:
    """An issue at the YAML node of `loc` (the key itself for an unknown field)."""
    from grader.bank.yamlsource import locate

    line, column = locate(document, loc, at_key=message.startswith("unknown field"))
    return BankIssue(name, line, column, ".".join(map(str, loc)), message)


def validation_issues(
    name: str, document: Any, exc: ValidationError, model: type[BaseModel]
) -> list[BankIssue]:
    """A pydantic error as `file:line:column` issues with the fix, for any authored model."""
    return [located(name, document, _loc(e), _message(e, model)) for e in exc.errors()]


def read_text(path: Path) -> tuple[str, BankIssue | None]:
    """A file's text, or the one issue that stops it being read (size, encoding, access)."""
    return _read(path)


def _header_issues(document: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """schema_version and kind decide how to read the rest, so they are checked first."""
    version = document.get("schema_version")
    if "schema_version" not in document:
        return [((), f"missing schema_version; add `schema_version: {SCHEMA_VERSION}`")]
    if not isinstance(version, int) or isinstance(version, bool):
        return [
            (
                ("schema_version",),
                f"schema_version must be a whole number; this grader reads {SCHEMA_VERSION}",
            )
        ]
    if version > SCHEMA_VERSION:
        return [
            (
                ("schema_version",),
                f"schema_version {version} is newer than this grader "
                f"reads ({SCHEMA_VERSION}); upgrade the grader",
            )
        ]
    if version < SCHEMA_VERSION:
        return [
            (
                ("schema_version",),
                f"schema_version {version} is no longer read; "
                f"migrate the file to schema_version {SCHEMA_VERSION}",
            )
        ]
    return _kind_issues(document.get("kind"))


def _kind_issues(kind: Any) -> list[tuple[tuple[str | int, ...], str]]:
    known = ", ".join(KIND_MODELS)
    if kind is None:
        return [((), f"missing kind; add `kind:` with one of {known}")]
    if kind in KIND_MODELS:
        return []
    return [(("kind",), f"unknown kind {kind!r}; use one of {known}")]


def _loc(error: Any) -> tuple[str | int, ...]:
    return tuple(error["loc"])


def _message(error: Any, model: type[BaseModel]) -> str:
    kind, loc = error["type"], error["loc"]
    name = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return f"unknown field {name!r}; remove it or fix its spelling ({_allowed(model, loc)})"
    if kind == "missing":
        return f"missing required field {name!r}; add it"
    got = error.get("input")
    shown = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{text[0].lower()}{text[1:]}{shown}"


def _allowed(model: type[BaseModel], loc: Iterable[str | int]) -> str:
    parts = [p for p in loc if isinstance(p, str)]
    if len(parts) == 1:
        return "allowed: " + ", ".join(model.model_fields)
    return "see `grader schema` for the allowed fields"
