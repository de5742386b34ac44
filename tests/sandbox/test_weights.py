"""The weights cache: list, add (torchvision's hash-prefix check), stand-ins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sandbox.errors import WeightsError
from sandbox.settings import SandboxSettings
from sandbox.standins import STANDINS
from sandbox.weights import (
    MANIFEST,
    README,
    STANDIN_LABEL,
    add_weights,
    hash_prefix,
    list_weights,
    make_standins,
)


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(weights_dir=tmp_path / "cache")


def checkpoint(folder: Path, stem: str, data: bytes, *, good: bool = True) -> Path:
    """A file named as torchvision names them: `<stem>-<sha256 prefix>.pth`."""
    digest = hashlib.sha256(data).hexdigest()
    prefix = digest[:8] if good else ("0" if digest[0] != "0" else "1") + digest[1:8]
    path = folder / f"{stem}-{prefix}.pth"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("resnet18-f37072fd.pth", "f37072fd"),
        ("mobilenet_v2-b0353104.pth", "b0353104"),
        ("my_model.pth", None),
        ("model-.pth", None),
    ],
    ids=["resnet18", "mobilenet", "no-hash", "empty-hash"],
)
def test_hash_prefix_is_read_as_torch_hub_does(name: str, prefix: str | None) -> None:
    assert hash_prefix(name) == prefix


def test_an_empty_or_missing_cache_lists_nothing(settings: SandboxSettings) -> None:
    assert list_weights(settings) == []


def test_add_accepts_a_file_whose_hash_matches(settings: SandboxSettings, tmp_path: Path) -> None:
    source = checkpoint(tmp_path, "toy", b"real weights")
    added = add_weights(settings, source)
    target = settings.weights_dir / source.name
    assert target.read_bytes() == b"real weights"
    assert target.stat().st_mode & 0o777 == 0o644
    assert (added.name, added.standin, added.hash_matches) == (source.name, False, True)
    assert list_weights(settings) == [added]
    assert not [p for p in settings.weights_dir.iterdir() if p.name.startswith(".")]


def test_add_refuses_a_hash_mismatch(settings: SandboxSettings, tmp_path: Path) -> None:
    source = checkpoint(tmp_path, "toy", b"corrupted download", good=False)
    with pytest.raises(WeightsError, match=source.name) as caught:
        add_weights(settings, source)
    assert "corrupt or misnamed" in str(caught.value)
    assert caught.value.exit_code == 2
    assert list_weights(settings) == []


def test_add_accepts_a_name_without_hash(settings: SandboxSettings, tmp_path: Path) -> None:
    source = tmp_path / "finetuned.pth"
    source.write_bytes(b"weights")
    assert add_weights(settings, source).hash_matches is None


@pytest.mark.parametrize("name", ["missing.pth", MANIFEST, ".hidden.pth"])
def test_add_refuses_what_is_not_a_weights_file(
    settings: SandboxSettings, tmp_path: Path, name: str
) -> None:
    if name != "missing.pth":
        (tmp_path / name).write_text("{}")
    with pytest.raises(WeightsError, match=name):
        add_weights(settings, tmp_path / name)


def test_a_real_file_replaces_a_stand_in(settings: SandboxSettings, tmp_path: Path) -> None:
    folder = settings.weights_dir
    folder.mkdir()
    (folder / "toy.pth").write_bytes(b"stand-in")
    digest = hashlib.sha256(b"stand-in").hexdigest()
    (folder / MANIFEST).write_text(json.dumps({"standins": {"toy.pth": {"sha256": digest}}}))
    assert [w.standin for w in list_weights(settings)] == [True]
    real = tmp_path / "toy.pth"
    real.write_bytes(b"real")
    add_weights(settings, real)
    assert [w.standin for w in list_weights(settings)] == [False]
    assert "toy.pth" not in json.loads((folder / MANIFEST).read_text())["standins"]


def test_a_stand_in_is_labelled_calmly_and_a_real_mismatch_is_not(
    settings: SandboxSettings, tmp_path: Path
) -> None:
    """A stand-in carries a real file's name (hash prefix included) but not its content: that is
    its purpose, not a fault. A real file whose content is not what its name says is."""
    folder = settings.weights_dir
    folder.mkdir()
    standin = checkpoint(folder, "resnet18", b"random stand-in weights", good=False)
    corrupt = checkpoint(folder, "resnet50", b"a download cut short", good=False)
    good = checkpoint(folder, "mobilenet_v2", b"a real download")
    digest = hashlib.sha256(standin.read_bytes()).hexdigest()
    (folder / MANIFEST).write_text(json.dumps({"standins": {standin.name: {"sha256": digest}}}))
    listed = {w.name: w for w in list_weights(settings)}
    shown = {name: str(w).split("\t", 2)[2] for name, w in listed.items()}
    assert shown[standin.name] == "stand-in (no published hash; for tests and demos)"
    assert shown[standin.name] == STANDIN_LABEL and "MISMATCH" not in shown[standin.name]
    assert shown[corrupt.name].startswith("real\thash MISMATCH: corrupt or misnamed")
    assert shown[good.name] == "real\thash ok"
    assert [n for n, w in listed.items() if w.mismatched] == [corrupt.name]
    assert listed[standin.name].hash_matches is False  # the data stays true; only the words change


def test_standins_need_the_runtime(tmp_path: Path) -> None:
    settings = SandboxSettings(runtime=tmp_path / "no-runtime", weights_dir=tmp_path / "cache")
    with pytest.raises(WeightsError, match="make runtime"):
        make_standins(settings)


@pytest.mark.torch
@pytest.mark.slow
def test_standins_are_made_once_and_labelled(settings: SandboxSettings) -> None:
    if not (SandboxSettings().runtime / "bin" / "python").exists():
        pytest.skip("no sandbox runtime: run `make runtime`")
    folder = settings.weights_dir
    folder.mkdir()
    real = checkpoint(folder, "resnet18", b"operator's real file")  # a real file is never replaced
    real.rename(folder / "resnet18-f37072fd.pth")
    made = make_standins(settings)
    files = {name for _, name in STANDINS.values()}
    assert sorted(line.split()[1] for line in made) == sorted(files)
    assert "kept resnet18-f37072fd.pth" in made
    listed = {w.name: w for w in list_weights(settings)}
    assert set(listed) == files
    assert not listed["resnet18-f37072fd.pth"].standin
    assert all(w.standin and w.hash_matches is False for n, w in listed.items() if "18" not in n)
    assert all(str(w).endswith(STANDIN_LABEL) for n, w in listed.items() if "18" not in n)
    # the operator's file is real and its content is not resnet18's: that one is flagged
    assert [n for n, w in listed.items() if w.mismatched] == ["resnet18-f37072fd.pth"]
    manifest = json.loads((folder / MANIFEST).read_text())["standins"]
    assert set(manifest) == files - {"resnet18-f37072fd.pth"}
    assert "STAND-INS" in (folder / README).read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert all(line.startswith("kept") for line in make_standins(settings))
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
