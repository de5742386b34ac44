"""The bank cache (grader/bank_cache.py) can make loading faster and nothing else: a hit gives
what parsing gives, any change to a file is seen (its bytes, not its time, decide), and a cache
that is torn, edited, from other code or unwritable is a miss."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.bank import load_bank, load_item
from grader.bank_cache import ItemCache, code_stamp, read_entry, write_entry
from grader.cli.app import main
from grader.errors import BankIssue
from grader.models import Item
from tests.grader.items import mcq, numeric, write

Outcome = tuple[Item | None, list[BankIssue]]


class Counting:
    """`load_item`, counting the files it really parses."""

    def __init__(self) -> None:
        self.parsed: list[Path] = []

    def __call__(self, path: Path) -> Outcome:
        self.parsed.append(path)
        return load_item(path)


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    folder = tmp_path / "bank"
    folder.mkdir()
    mcq(folder)
    numeric(folder)
    write(folder, "broken", "schema_version: 1\nid: broken\nkind: mcq\n")
    return folder


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json"))


def test_a_hit_gives_what_parsing_gives_without_parsing(bank: Path, tmp_path: Path) -> None:
    cache = ItemCache(tmp_path / "items")
    for path in sorted(bank.glob("*.yaml")):
        parse = Counting()
        first = cache.load(path, parse)
        again = cache.load(path, parse)
        assert first == again == load_item(path) and parse.parsed == [path]
    broken = cache.load(bank / "broken.yaml", load_item)
    assert broken[0] is None and "missing required field" in str(broken[1][0])


def test_load_bank_with_a_cache_is_load_bank(bank: Path, tmp_path: Path) -> None:
    cache = ItemCache(tmp_path / "items")
    load_bank([bank], cache=cache)
    cached, parsed = load_bank([bank], cache=cache), load_bank([bank])
    assert (cached.items, cached.issues, cached.broken) == (
        parsed.items,
        parsed.issues,
        parsed.broken,
    )


def test_a_changed_file_is_parsed_again_even_with_the_same_size_and_time(
    bank: Path, tmp_path: Path
) -> None:
    cache = ItemCache(tmp_path / "items")
    path = bank / "resnet-head.yaml"
    cache.load(path, load_item)
    stat = path.stat()
    path.write_text(path.read_text().replace("answer: B", "answer: C"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    item, _ = cache.load(path, load_item)
    assert item is not None and item.answer == "C"  # type: ignore[union-attr]


def test_problems_are_located_in_the_file_as_named_now(bank: Path, tmp_path: Path) -> None:
    cache = ItemCache(tmp_path / "items")
    cache.load(bank / "broken.yaml", load_item)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "broken.yaml").write_bytes((bank / "broken.yaml").read_bytes())
    parse = Counting()
    _, issues = cache.load(moved / "broken.yaml", parse)
    assert parse.parsed == [] and {issue.file for issue in issues} == {str(moved / "broken.yaml")}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data.replace(b"model.fc", b"model.xx"),
        lambda data: b"not json\n" + data,
        lambda data: b"",
    ],
    ids=["torn", "edited", "garbage", "empty"],
)
def test_a_spoilt_entry_is_a_miss(bank: Path, tmp_path: Path, spoil: object) -> None:
    cache = ItemCache(tmp_path / "items")
    path = bank / "resnet-head.yaml"
    cache.load(path, load_item)
    [entry] = entries(tmp_path / "items")
    entry.write_bytes(spoil(entry.read_bytes()))  # type: ignore[operator]
    parse = Counting()
    assert cache.load(path, parse) == load_item(path) and parse.parsed == [path]


def test_an_entry_of_other_code_is_a_miss(tmp_path: Path) -> None:
    entry = tmp_path / "entry.json"
    write_entry(entry, code_stamp(), {"x": 1})
    assert read_entry(entry, code_stamp()) == {"x": 1}
    assert read_entry(entry, code_stamp(tmp_path / "other.py")) is None  # another stamp


def test_an_unwritable_cache_changes_nothing(bank: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    cache = ItemCache(blocked / "items")
    assert load_bank([bank], cache=cache).items == load_bank([bank]).items


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_list_sees_an_edit_a_new_file_and_a_removed_one(
    capsys: pytest.CaptureFixture[str], bank: Path, cached: Path
) -> None:
    code, out, err = run(capsys, "--bank", str(bank), "list")
    assert code == 0 and "Which layer" in out and "6 problem(s)" in err
    assert list((cached / "bank" / "views").glob("*.json"))  # the views are kept
    path = bank / "resnet-head.yaml"
    stat = path.stat()
    path.write_text(path.read_text().replace("Which layer", "What layer"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "What layer" in run(capsys, "--bank", str(bank), "list")[1]
    mcq(bank, "vit-head")
    (bank / "broken.yaml").unlink()
    code, out, err = run(capsys, "--bank", str(bank), "list")
    assert code == 0 and "vit-head" in out and err == ""


def test_show_of_an_id_the_views_lack_says_why(
    capsys: pytest.CaptureFixture[str], bank: Path, cached: Path
) -> None:
    assert run(capsys, "--bank", str(bank), "list")[0] == 0
    code, _, err = run(capsys, "--bank", str(bank), "show", "broken")
    assert code == 2 and "broken.yaml:1:1" in err and "missing required field" in err
    code, _, err = run(capsys, "--bank", str(bank), "show", "nope")
    assert code == 2 and err.splitlines()[-1].startswith("error: unknown question id 'nope'")


def test_show_finds_an_item_by_a_former_id_the_views_do_not_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cached: Path
) -> None:
    mcq(tmp_path, "vit-head", **{"tags: [resnet, heads]": "tags: [heads]\naliases: [old-head]"})
    assert run(capsys, "--bank", str(tmp_path), "list")[0] == 0  # the views are kept
    code, out, _ = run(capsys, "--bank", str(tmp_path), "show", "old-head")
    assert code == 0 and "[vit-head]" in out


def test_views_made_under_other_settings_are_not_used(
    capsys: pytest.CaptureFixture[str], bank: Path, cached: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "--bank", str(bank), "list")[0] == 0
    monkeypatch.setenv("GRADER_POOL_SIZE", "two")
    code, _, err = run(capsys, "--bank", str(bank), "list")
    assert code == 2 and "GRADER_POOL_SIZE='two'" in err  # as before the cache: it is checked


def test_validate_parses_whatever_the_cache_holds(
    capsys: pytest.CaptureFixture[str], bank: Path, cached: Path
) -> None:
    run(capsys, "--bank", str(bank), "answer", "resnet-head", "B")
    for entry in (cached / "bank" / "items").glob("*.json"):  # every file "valid" in the cache
        write_entry(entry, code_stamp(), {"item": None, "issues": []})
    code, out, err = run(capsys, "validate", str(bank))
    assert code == 2 and "broken.yaml" in err and "2 valid item(s)" in out


def test_cached_views_naming_a_file_outside_the_bank_are_not_believed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.cli.views import _one_item

    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    bank = tmp_path / "bank"
    bank.mkdir()
    outside = mcq(tmp_path, "planted")  # a valid item, beside the bank
    assert _one_item(bank, bank / ".." / outside.name, {}) is None
    found = _one_item(bank, mcq(bank, "planted"), {})
    assert found is not None and list(found.items) == ["planted"]
