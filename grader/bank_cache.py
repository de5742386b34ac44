"""A cache of what loading the bank found, so the commands that only read it start fast.

Parsing the bank with ruamel.yaml's round-trip loader and validating it with pydantic costs
seconds; the cache keeps the outcome as plain JSON under `<GRADER_CACHE>/bank/`:

- `items/`: one item file parsed and validated (the item's data, or every problem found),
  filed by the file's name and content. `load_bank(paths, cache=ItemCache(...))` reads it
  instead of parsing again; `grader validate` passes no cache and always parses.
- `views/`: what `grader list` and `grader show` print of a whole bank (grader/cli/views.py).

An item that varies is kept with its template (`Item._source`) and which variant it is, so the
item recalled renders every variant as the item parsed would.

Every entry carries the stamp of the code that made it (`code_stamp`: the sources of
`grader.bank`, `grader.models` and `grader.variants`, the pydantic, ruamel.yaml and Jinja2
installed) and a digest of its
payload. An entry made by other code, torn, or edited, a file that cannot be read or written:
each is a miss, and a miss is the full parse, so the cache can make a command faster and nothing
else. This module imports only the standard library: `grader list` reads it before (and instead
of) loading pydantic.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.errors import BankIssue
    from grader.models import Item

#: Bumped when the layout of an entry changes.
FORMAT = 1
#: Files up to this size are fingerprinted by content; bigger ones (data) by size and time.
HASH_LIMIT = 1024 * 1024
#: Entries kept per folder; past it the oldest half goes (a bank's entries are a few dozen).
KEEP = 1000
PACKAGE = Path(__file__).resolve().parent
#: What loading and validating an item runs: a change to any of them is a new stamp.
SOURCES = ("bank", "models", "variants", "errors.py", "bank_cache.py")
LIBRARIES = ("pydantic", "pydantic_core", "ruamel.yaml", "jinja2")

Loader = Callable[[Path], "tuple[Item | None, list[BankIssue]]"]


def code_stamp(*extra: Path) -> str:
    """A digest of the code an entry depends on (and of `extra` files): the sources by size and
    modification time, the libraries by their installed `__init__` files."""
    files = [path for name in SOURCES for path in _python_files(PACKAGE / name)]
    files += [Path(origin) for origin in map(_origin, LIBRARIES) if origin]
    files += extra
    return _digest(json.dumps([[str(path), *_stat(path)] for path in files]).encode())


def fingerprint(paths: Iterable[Path]) -> dict[str, list[Any]] | None:
    """Every file under `paths` as [size, mtime_ns, sha256 of small files]; None when one cannot
    be read. Two equal fingerprints mean no file was added, removed or changed."""
    found: dict[str, list[Any]] = {}
    try:
        for path in paths:
            for file in _files_under(path):
                found[str(file)] = _file_print(file)
    except OSError:
        return None
    return found


def read_entry(path: Path, stamp: str) -> Any:
    """The payload stored at `path` by `write_entry` with this stamp; None on any miss."""
    try:
        head, _, body = path.read_bytes().partition(b"\n")
        header = json.loads(head)
        if header != {"format": FORMAT, "stamp": stamp, "digest": _digest(body)}:
            return None
        return json.loads(body)
    except (OSError, ValueError):
        return None


def write_entry(path: Path, stamp: str, payload: Any) -> None:
    """Store `payload` at `path` whole or not at all (a reader never sees half an entry); a
    folder that cannot be written leaves the cache as it was."""
    from grader.files import write_whole  # writing is rare: reading starts without it

    body = json.dumps(payload, separators=(",", ":")).encode()
    header = json.dumps({"format": FORMAT, "stamp": stamp, "digest": _digest(body)}).encode()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, header + b"\n" + body, mode=0o600)
        _prune(path.parent)


class ItemCache:
    """Item files already parsed and validated, filed by name and content under `folder`.

    `load(path, parse)` returns what `parse(path)` would: the stored outcome when this file's
    name and bytes were seen before by the same code, else `parse(path)`, stored for next time.
    An item is stored only when it comes back from its stored data equal to what was parsed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stamp = code_stamp()

    def load(self, path: Path, parse: Loader) -> tuple[Item | None, list[BankIssue]]:
        content = _small_content(path)
        if content is None:  # unreadable or too big: the parser says why
            return parse(path)
        entry = self.folder / f"{_digest(path.name.encode() + b'/' + content)}.json"
        stored = read_entry(entry, self.stamp)
        if stored is not None:
            recalled = _recall(stored, str(path))
            if recalled is not None:
                return recalled
        item, issues = parse(path)
        if _small_content(path) == content:  # not changed while it was parsed
            payload = _payload(item, issues)
            if payload is not None:
                write_entry(entry, self.stamp, payload)
        return item, issues


def _payload(item: Item | None, issues: list[BankIssue]) -> dict[str, Any] | None:
    """What is stored of an outcome; None when the item would not come back the same."""
    problems = [[i.line, i.column, i.field, i.message] for i in issues]
    if item is None:
        return {"item": None, "issues": problems}
    try:
        data: dict[str, Any] = {
            "kind": item.kind,
            "data": item.model_dump(mode="json", exclude_unset=True),
        }
        if item.variant is not None:
            data |= {"source": item._source, "variant": item.variant.to_json()}
        back = _item(json.loads(json.dumps(data)))  # as it will be read back
    except (ValueError, TypeError):  # pydantic's errors are ValueErrors
        return None
    same = back == item and back.model_dump(exclude_unset=True) == item.model_dump(
        exclude_unset=True
    )
    return {"item": data, "issues": problems} if same else None


def _recall(stored: Any, name: str) -> tuple[Item | None, list[BankIssue]] | None:
    """The outcome again, its problems located in the file as named now; None if malformed."""
    from pydantic import ValidationError

    from grader.errors import BankIssue

    try:
        issues = [
            BankIssue(name, line, column, field, message)
            for line, column, field, message in stored["issues"]
        ]
        item = None if stored["item"] is None else _item(stored["item"])
    except (KeyError, TypeError, ValueError, ValidationError):
        return None
    return item, issues


def _item(data: dict[str, Any]) -> Item:
    """The item validated again from its stored data, building only its kind's models (and
    its template and variant put back, for an item that varies)."""
    from grader.models.registry import item_model

    item: Item = item_model(data["kind"]).model_validate(data["data"])  # type: ignore[assignment]
    if "variant" in data:
        from grader.variants import Variant

        item._source = dict(data["source"])
        item._variant = Variant(**data["variant"])
    return item


def _small_content(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            content = handle.read(HASH_LIMIT + 1)
    except OSError:
        return None
    return content if len(content) <= HASH_LIMIT else None


def _files_under(path: Path) -> Iterator[Path]:
    """The files under `path`, as `load_bank` finds them (`rglob`: not into linked folders)."""
    if not path.is_dir():
        yield path  # a missing path raises in _file_print: no fingerprint
        return
    for folder, _, names in sorted(os.walk(path)):
        yield from (Path(folder) / name for name in sorted(names))


def _file_print(path: Path) -> list[Any]:
    size, mtime_ns = _stat(path, strict=True)
    content = path.read_bytes() if size <= HASH_LIMIT else None
    return [size, mtime_ns, _digest(content) if content is not None else None]


def _stat(path: Path, strict: bool = False) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        if strict:
            raise
        return -1, -1
    return status.st_size, status.st_mtime_ns


def _python_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _origin(module: str) -> str | None:
    """Where a library is installed, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _prune(folder: Path) -> None:
    """Past `KEEP` entries, drop the older half (by when each was written)."""
    entries = [p for p in folder.iterdir() if p.suffix == ".json"]
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda p: _stat(p)[1])
    for stale in entries[: len(entries) - KEEP // 2]:
        stale.unlink(missing_ok=True)
