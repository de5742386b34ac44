"""The weights cache: torchvision checkpoint files served read-only to every sandbox.

Sandboxes see the cache at `$TORCH_HOME/hub/checkpoints` (`settings.SANDBOX_CHECKPOINTS`), so a
program's `resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)` loads offline. Operators add real
files fetched on a connected machine (`grader weights add FILE`); tests fill it with stand-ins
(`grader weights standins`, see `sandbox.standins`), listed in `STANDINS.json`.

torchvision names files `<name>-<sha256 prefix>.pth`; adding a file checks that prefix as
`torch.hub`'s `check_hash` does, and refuses a mismatch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.errors import WeightsError
from sandbox.process.jail import Runtime
from sandbox.settings import SandboxSettings
from sandbox.standins import STANDINS, generate

MANIFEST = "STANDINS.json"
README = "README"
#: torch.hub's HASH_REGEX: the hex digits between the last-but-extension dash and the dot.
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
#: How `grader weights list` labels a stand-in, whose name's hash prefix is never its own.
STANDIN_LABEL = "stand-in (no published hash; for tests and demos)"
_README_TEXT = (
    "Weights cache for the grader's sandboxes (mounted read-only at $TORCH_HOME/hub/checkpoints).\n"
    f"Files listed in {MANIFEST} are STAND-INS: random weights with the right names and shapes,\n"
    "made locally for tests and offline demos. They are not pre-trained. Replace them with the\n"
    "real files via `grader weights add FILE`.\n"
)


@dataclass(frozen=True)
class WeightsFile:
    """One file in the cache. `hash_matches` is None when its name carries no hash prefix."""

    name: str
    size: int
    standin: bool
    hash_prefix: str | None
    hash_matches: bool | None

    def __str__(self) -> str:
        return f"{self.name}\t{self.size} bytes\t{self.label}"

    @property
    def label(self) -> str:
        """What the file is, in words. A stand-in carries a real file's name but never its
        published hash: that is by design, so it is said calmly; a real file whose hash does not
        match is corrupt or misnamed, and torchvision would refuse it."""
        if self.standin:
            return STANDIN_LABEL
        check = {
            True: "hash ok",
            False: "hash MISMATCH: corrupt or misnamed (torchvision refuses it); "
            "replace it with `grader weights add FILE`",
            None: "no hash in name",
        }
        return f"real\t{check[self.hash_matches]}"

    @property
    def mismatched(self) -> bool:
        """A real file whose content is not what its name promises (stand-ins never are)."""
        return not self.standin and self.hash_matches is False


def hash_prefix(name: str) -> str | None:
    """The sha256 prefix torchvision puts in a file name, or None when there is none."""
    match = HASH_REGEX.search(name)
    return match.group(1) if match and match.group(1) else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(path: Path, manifest: dict[str, Any]) -> WeightsFile:
    digest = sha256_of(path)
    prefix = hash_prefix(path.name)
    entry = manifest.get(path.name, {})
    return WeightsFile(
        name=path.name,
        size=path.stat().st_size,
        standin=entry.get("sha256") == digest,
        hash_prefix=prefix,
        hash_matches=None if prefix is None else digest.startswith(prefix),
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The stand-ins recorded in the cache: file name -> what made it."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{folder / MANIFEST}: unreadable stand-in manifest ({exc})") from exc
    standins = data.get("standins", {}) if isinstance(data, dict) else {}
    return standins if isinstance(standins, dict) else {}


def _write_manifest(folder: Path, standins: dict[str, Any]) -> None:
    body = {"schema_version": 1, "note": "these files are stand-ins, not pre-trained weights"}
    _write_atomic(folder / MANIFEST, json.dumps({**body, "standins": standins}, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(f".{path.name}.part")
    part.write_text(text)
    part.chmod(0o644)
    os.replace(part, path)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    skip = {MANIFEST, README}
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.is_symlink() and not path.name.startswith(".")
        if path.name not in skip
    )


def list_weights(settings: SandboxSettings) -> list[WeightsFile]:
    """Every checkpoint in the cache, with whether it is a stand-in and whether its hash fits."""
    folder = settings.weights_dir
    manifest = read_manifest(folder)
    return [_describe(path, manifest) for path in _files(folder)]


def add_weights(settings: SandboxSettings, path: Path | str) -> WeightsFile:
    """Copy a checkpoint into the cache atomically, after checking its name's hash prefix."""
    source = Path(path)
    if not source.is_file():
        raise WeightsError(f"{source}: no such weights file")
    if source.name in (MANIFEST, README) or source.name.startswith("."):
        raise WeightsError(f"{source}: {source.name!r} cannot be a weights file name")
    prefix = hash_prefix(source.name)
    try:
        digest = sha256_of(source)
    except OSError as exc:
        raise WeightsError(f"{source}: unreadable ({exc})") from exc
    if prefix is not None and not digest.startswith(prefix):
        raise WeightsError(
            f"{source}: the name says sha256 {prefix}..., the file's is "
            f"{digest[: len(prefix)]}...; the file is corrupt or misnamed "
            "(torchvision checks this prefix)"
        )
    folder = _cache(settings)
    _copy_atomic(source, folder / source.name)
    manifest = read_manifest(folder)
    if manifest.pop(source.name, None) is not None:
        _write_manifest(folder, manifest)
    return _describe(folder / source.name, manifest)


def _cache(settings: SandboxSettings) -> Path:
    folder = settings.weights_dir
    try:
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot create the weights cache {folder}: {exc}") from exc
    return folder


def _copy_atomic(source: Path, target: Path) -> None:
    part = target.with_name(f".{target.name}.part")
    try:
        shutil.copyfile(source, part)
        part.chmod(0o644)
        os.replace(part, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        raise WeightsError(f"cannot copy {source} into {target.parent}: {exc}") from exc


def make_standins(settings: SandboxSettings) -> list[str]:
    """Fill the cache with stand-ins for every known checkpoint that is missing; idempotent.

    A file already present (stand-in or real) is kept. Needs the sandbox runtime (torch).
    """
    folder = _cache(settings)
    manifest = read_manifest(folder)
    missing = [name for name, (_, file) in STANDINS.items() if not (folder / file).exists()]
    lines = [f"kept {STANDINS[name][1]}" for name in STANDINS if name not in missing]
    if missing:
        runtime = Runtime.find(settings.runtime)
        if runtime is None:
            raise WeightsError(
                f"stand-ins need the sandbox runtime (torch) at {settings.runtime}: "
                "run `make runtime`"
            )
        for report in generate(runtime.python, folder, missing):
            file = str(report["file"])
            manifest[file] = {**report, "sha256": sha256_of(folder / file)}
            lines.append(f"made {file} (stand-in for {report['weights']})")
        _write_manifest(folder, manifest)
    if not (folder / README).exists():
        _write_atomic(folder / README, _README_TEXT)
    return lines
