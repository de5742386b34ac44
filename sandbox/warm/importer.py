"""The zygotes' side of `sandbox.warm.preload`: import modules from source bytes held in memory,
forget them for a job that does not carry them, and the digest both sides compare. Standard
library only, and no dataclasses: the process zygote imports this file from its code folder, the
Docker one executes its source (`zygote.load`)."""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import sys
import traceback
from collections.abc import Mapping
from types import ModuleType
from typing import Any


def import_sources(sources: Mapping[str, bytes], folder: str) -> list[str]:
    """Import each `NAME.py` of `sources` as the top-level module NAME, in name order, as if
    from `folder` (its `__file__`); the names imported. When a name is taken already (a module
    the warm imports brought) or one fails to import (said on stderr), none of them is left in
    `sys.modules` and [] is returned: jobs then carry their own."""
    names = [name[:-3] for name in sorted(sources)]
    if any(name in sys.modules for name in names):
        return []
    finder = _Sources(sources, folder)
    path = list(sys.path)
    sys.meta_path.insert(0, finder)
    try:
        for name in names:
            importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any failure: no preload
        traceback.print_exc()
        forget(names)  # those an earlier one imported too
        names = []
    finally:
        sys.meta_path.remove(finder)
        sys.path[:] = path  # a module that put its own folder on the path leaves it too
    return names


def forget(names: list[str]) -> None:
    """Take the preloaded modules out of `sys.modules` (a job that does not carry them)."""
    for name in names:
        sys.modules.pop(name, None)


class _Sources(importlib.abc.SourceLoader):
    """Finds (on `sys.meta_path`) and loads top-level modules from source bytes in memory."""

    def __init__(self, sources: Mapping[str, bytes], folder: str) -> None:
        self.sources, self.folder = sources, folder

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if path is not None or f"{name}.py" not in self.sources:
            return None
        return importlib.util.spec_from_file_location(name, self.get_filename(name), loader=self)

    def get_filename(self, fullname: str) -> str:
        return f"{self.folder}/{fullname}.py"

    def get_data(self, path: str) -> bytes:
        return self.sources[path.rpartition("/")[2]]


def digest_of(sources: Mapping[str, bytes]) -> str:
    """sha256 over the sources, in name order. Standard library only: the zygote runs it too."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()
