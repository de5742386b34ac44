"""Modules a warm interpreter imports once, before any job: the folder `GRADER_WARM_FILES` names
(by default the grader's harness, which every graded run carries as `harness/*.py`).

A zygote imports the folder's modules as it starts, after torch, from a copy of the bytes the
host read (so what it imported is what the host compares with). A job that carries that folder
byte for byte (`harness/NAME.py`, plus at most what `harness/__pycache__/` holds) and runs
`python -c CODE` is sent without it and runs with the modules already imported: no 160 KB
payload to encode, send, decode and write, no import. Any other job gets the modules taken out
of `sys.modules` first, so it imports its own files, or finds none (it could still reach the
objects through others', as it could read the same public code). The modules are the host's
own trusted code, imported before any student code exists in the zygote, and each job is a
fresh fork: what a job does to them stays in its own address space, as with torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox.base import RunRequest
from sandbox.warm import program as warm_program
from sandbox.warm.importer import digest_of

#: Where a job's bytecode for the folder's modules may travel (ignored when preloaded: the
#: zygote compiled the same sources itself).
_BYTECODE = "__pycache__/"


@dataclass(frozen=True)
class Preload:
    """A folder's Python sources as the host read them once: `folder` is its name in a job's
    files, `sources` maps `NAME.py` to its bytes."""

    folder: str
    sources: Mapping[str, bytes]

    @classmethod
    def read(cls, path: Path | None) -> Preload | None:
        """The folder's modules (its `*.py` files but a package's `__init__.py`, which no job
        imports by name), or None for no folder (or one without modules)."""
        if path is None or not path.is_dir():
            return None
        found = sorted(p for p in path.glob("*.py") if p.is_file() and p.name != "__init__.py")
        sources = {p.name: p.read_bytes() for p in found}
        return cls(path.name, sources) if sources else None

    @property
    def digest(self) -> str:
        """What the zygote reports it imported (`digest_of`, computed on the same bytes)."""
        return digest_of(self.sources)

    def texts(self) -> dict[str, str] | None:
        """The sources as text (to travel as an argument); None when one is not UTF-8."""
        try:
            return {name: data.decode() for name, data in self.sources.items()}
        except UnicodeDecodeError:
            return None

    def write(self, folder: Path) -> None:
        """The sources into `folder` (the zygote's own copy)."""
        folder.mkdir()
        for name, data in self.sources.items():
            (folder / name).write_bytes(data)

    def strip(self, request: RunRequest) -> dict[str, bytes] | None:
        """The job's files less this folder's, when the job carries the folder as read (every
        source byte for byte, nothing else in it but what `__pycache__/` holds, which is never
        run then) and runs `python -c CODE` (a script might be one of those files, or read
        them); None otherwise."""
        program = warm_program.plan(request.argv)
        if program is None or "code" not in program:
            return None
        files, prefix = request.files, f"{self.folder}/"
        ours = {n.removeprefix(prefix): data for n, data in files.items() if n.startswith(prefix)}
        sources = {name: data for name, data in ours.items() if not name.startswith(_BYTECODE)}
        if sources != dict(self.sources):
            return None
        return {name: data for name, data in files.items() if not name.startswith(prefix)}
