"""The bank as students see it, for `grader list` and `grader show`, without loading pydantic;
and, for `grader answer` and `check`, the one item to grade without loading the whole bank.

Those two commands print each item's public view (`Item.public()`: never a key). The views of
a bank are kept in the bank cache (grader/bank_cache.py), filed by the bank's folder and the
`GRADER_*` variables; they are used while every file under the folder has the fingerprint it
had when they were made and the code is the same. Otherwise (or for an id the views do not have,
whose error the bank gives) the bank is loaded as every command loads it, and its views are
kept for next time. A start that reads the views imports neither pydantic nor ruamel.yaml: that
is the difference between about 0.1 s and several.

The views also say which file each id (or former id) is read from: `item_bank` reads that one
file through the item cache, whose data pydantic validates again, and grades with a bank of that
item alone, where loading the bank would validate every item.

A cached view is what every student sees only for an item that does not vary: `show` renders a
varying item's variant (`--seed`, else this machine's seed: `variant_of`) from that one item,
and `answer` and `check` grade the same variant, so the variant shown is the variant graded.

The bank and cache folders are found here as `GraderSettings` finds them (`bank_folder`,
`cache_folder`), because importing pydantic-settings alone costs more than the whole command;
tests/grader/test_cli_startup.py checks that the two agree. Views are only kept when they do.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.bank_cache import ItemCache, code_stamp, fingerprint, read_entry, write_entry
from sandbox.home import grader_home

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.models import Item
    from grader.settings import GraderSettings


@dataclass(frozen=True)
class ItemView:
    """One item as a student sees it before answering: its `public()` view, and whether it is
    a student bank's item (then its answers go to the course server); `named` is the former id
    it was asked by when that id names a fixed variant (answers must name it too)."""

    view: dict[str, Any]
    student: bool = False
    named: str | None = None

    @property
    def id(self) -> str:
        return str(self.view["id"])

    @property
    def answer_id(self) -> str:
        """The id to answer with: a fixed variant's former id, else the item's."""
        return self.named or self.id

    @property
    def varies(self) -> bool:
        """Whether students see different variants of it (`Item.public()` marks those)."""
        return bool(self.view.get("varies"))


@dataclass
class StudentBank:
    """The valid items' views by id, how many problems the bank has, each item's file (relative
    to the bank's folder) and the former ids (`aliases`) that find an item, as `Bank.get` does."""

    items: dict[str, ItemView] = field(default_factory=dict)
    problems: int = 0
    files: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, bank: Bank) -> StudentBank:
        views = {i: ItemView(item.public(), item.student) for i, item in bank.items.items()}
        files = {i: str(path.relative_to(bank.root)) for i, path in bank.paths.items()}
        return cls(views, len(bank.issues), files, dict(bank.aliases))

    def find(self, item_id: str) -> str | None:
        """The id of the item `item_id` names (its id or a former id); None when none does."""
        found = self.aliases.get(item_id, item_id)
        return found if found in self.items else None

    def to_json(self) -> dict[str, Any]:
        items = [{"view": v.view, "student": v.student} for v in self.items.values()]
        return {
            "items": items,
            "problems": self.problems,
            "files": self.files,
            "aliases": self.aliases,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudentBank:
        views = [ItemView(dict(i["view"]), bool(i["student"])) for i in data["items"]]
        files = {str(k): str(v) for k, v in data["files"].items()}
        aliases = {str(k): str(v) for k, v in data["aliases"].items()}
        return cls({view.id: view for view in views}, int(data["problems"]), files, aliases)


def student_bank(flag: Path | None) -> StudentBank:
    """The views of the bank at `--bank` (else where the settings say): from the cache when
    they are current, else from loading the bank, which keeps them."""
    found = _Memo.at(bank_folder(flag)).recall()
    return found if found is not None else StudentBank.of(_load(flag))


def student_item(flag: Path | None, item_id: str) -> tuple[ItemView, int]:
    """One item's view, and how many problems the bank has. An id the cached views lack (an
    unknown one, an invalid file's) is looked up in the loaded bank, which finds it or raises
    its error."""
    found = _Memo.at(bank_folder(flag)).recall()
    known = found.find(item_id) if found is not None else None
    if found is not None and known is not None:
        return found.items[known], found.problems
    bank = _load(flag)
    return view_of(bank.get(item_id), item_id), len(bank.issues)


def view_of(item: Item, item_id: str) -> ItemView:
    """The view of `item`, asked for as `item_id` (a fixed variant is answered by that id)."""
    fixed = item.variant is not None and item.variant.seed is None
    return ItemView(item.public(), item.student, item_id if fixed else None)


def shown_item(flag: Path | None, item_id: str, seed: int | None) -> tuple[ItemView, int]:
    """What `grader show` prints: the cached view of an item every student sees the same; a
    varying item (or a fixed variant's former id) rendered for `seed`, else this machine's
    seed for it (`variant_of`), from the one item read through the item cache."""
    view, problems = student_item(flag, item_id)
    if not view.varies:
        if seed is not None:
            ignored_seed(item_id)
        return view, problems
    bank, problems = item_bank(flag, item_id)
    item = variant_of(bank, item_id, seed)
    if item.varies and item.student and seed is None:
        print(
            f"note: a practice variant; the one your course grades: grader show {item_id} --server",
            file=sys.stderr,
        )
    return view_of(item, item_id), problems


def variant_of(bank: Bank, item_id: str, seed: int | None) -> Item:
    """The item `show`, `answer` and `check` use: a varying item's variant for `seed`, else for
    this machine's seed (so `show ID` and `answer ID X` agree with no flag); a fixed variant's
    former id or an item that does not vary as it is, a `--seed` for it noted and ignored."""
    item = bank.get(item_id)
    if not item.varies:
        if seed is not None:
            ignored_seed(item_id)
        return item
    if seed is None:
        from grader.variants.seeds import local_seed

        seed = local_seed(item.id)
    return bank.variant(item_id, seed)


def ignored_seed(item_id: str) -> None:
    print(f"note: {item_id!r} does not vary: --seed is ignored", file=sys.stderr)


def item_bank(flag: Path | None, item_id: str) -> tuple[Bank, int]:
    """A bank to grade `item_id` with, and how many problems the bank has. While the views are
    current and know the id, the bank holds that item alone, read from its file through the
    item cache; otherwise it is the whole bank, loaded (which keeps the views), whose `get`
    finds the item or raises its error."""
    folder = bank_folder(flag)
    found = _Memo.at(folder).recall()
    known = found.find(item_id) if found is not None else None
    if found is not None and known is not None:
        aliases = {alias: i for alias, i in found.aliases.items() if i == known}
        bank = _one_item(folder, folder / found.files[known], aliases)
        if bank is not None:
            return bank, found.problems
    bank = _load(flag)
    return bank, len(bank.issues)


def _one_item(folder: Path, path: Path, aliases: dict[str, str]) -> Bank | None:
    """A bank of the one item in `path`; None when the file no longer holds a valid item of the
    id it is named for (it changed since its fingerprint was taken)."""
    from grader.bank import Bank, load_item

    if not path.resolve().is_relative_to(folder.resolve()):
        return None  # a cache that names a file outside the bank is not believed
    item, _ = _item_cache(cache_folder()).load(path, load_item)
    if item is None or item.id != path.stem:
        return None
    return Bank(root=folder, items={item.id: item}, paths={item.id: path}, aliases=aliases)


def report_problems(count: int) -> None:
    """`list`, `show` and `answer` go on with the valid items and say the bank has problems."""
    if count:
        print(f"warning: {count} problem(s) in the bank; run `grader validate`", file=sys.stderr)


def bank_folder(flag: Path | None) -> Path:
    """`--bank`, else `$GRADER_BANK`, else ./questions when it is a folder, else the home's."""
    if flag:
        return flag
    if "GRADER_BANK" in os.environ:
        return Path(os.environ["GRADER_BANK"])
    local = Path.cwd() / "questions"
    return local if local.is_dir() else grader_home() / "questions"


def cache_folder() -> Path:
    """`$GRADER_CACHE`, else `<home>/.cache`."""
    configured = os.environ.get("GRADER_CACHE")
    return Path(configured) if configured is not None else grader_home() / ".cache"


def _load(flag: Path | None) -> Bank:
    from grader.bank import load_bank
    from grader.settings import with_flags

    settings = with_flags(flag)
    memo = _Memo.at(settings.bank)
    before = memo.files()
    bank = load_bank([settings.bank], cache=items_cache(settings))
    if before is not None and memo.files() == before and _agrees(flag, settings):
        memo.keep(before, StudentBank.of(bank))
    return bank


def items_cache(settings: GraderSettings) -> ItemCache:
    """The parsed items kept for `load_bank`, under the settings' cache folder."""
    return _item_cache(settings.cache)


def _item_cache(cache: Path) -> ItemCache:
    return ItemCache(cache / "bank" / "items")


def _agrees(flag: Path | None, settings: GraderSettings) -> bool:
    """Whether this module finds the folders the settings do: views are kept only then."""
    return bank_folder(flag) == settings.bank and cache_folder() == settings.cache


@dataclass(frozen=True)
class _Memo:
    """Where one bank's views are kept, and under which code and environment."""

    bank: Path
    path: Path
    stamp: str

    @classmethod
    def at(cls, bank: Path) -> _Memo:
        bank = Path(os.path.abspath(bank))
        key = json.dumps([str(bank), _environment()]).encode()
        name = hashlib.sha256(key).hexdigest()[:32]
        stamp = code_stamp(Path(__file__))
        return cls(bank, cache_folder() / "bank" / "views" / f"{name}.json", stamp)

    def files(self) -> dict[str, list[Any]] | None:
        return fingerprint([self.bank])

    def recall(self) -> StudentBank | None:
        stored = read_entry(self.path, self.stamp)
        try:
            if stored["for"] != [str(self.bank), _environment()]:
                return None
            if stored["files"] != self.files():
                return None
            return StudentBank.from_json(stored["views"])
        except (KeyError, TypeError, ValueError):
            return None

    def keep(self, files: dict[str, list[Any]], views: StudentBank) -> None:
        payload = {"for": [str(self.bank), _environment()], "files": files}
        write_entry(self.path, self.stamp, payload | {"views": views.to_json()})


def _environment() -> dict[str, str]:
    """The `GRADER_*` variables: views made under others (a bad setting too) are not used."""
    return {k: v for k, v in sorted(os.environ.items()) if k.upper().startswith("GRADER_")}
