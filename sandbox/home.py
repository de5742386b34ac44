"""Where the grader's files live: one rule, read with the standard library only, so the fast
CLI paths (`list`, `show`) and the settings classes find the same folders."""

from __future__ import annotations

import os
from pathlib import Path

#: The folder holding this package: a checkout when it has a pyproject.toml beside it.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def grader_home() -> Path:
    """`$GRADER_HOME`, else the checkout this package runs from, else the working directory.

    Every default path (runtime, caches, bank, solutions) hangs off it, so an installed
    (non-editable) package looks in the folder it is run from, never in site-packages."""
    configured = os.environ.get("GRADER_HOME")
    if configured:
        return Path(configured)
    if (PACKAGE_PARENT / "pyproject.toml").is_file():
        return PACKAGE_PARENT
    return Path.cwd()


def runtime_folder() -> Path:
    """`$GRADER_RUNTIME`, else `<home>/.runtime` (`SandboxSettings().runtime`, read without
    pydantic)."""
    configured = os.environ.get("GRADER_RUNTIME")
    return Path(configured) if configured else grader_home() / ".runtime"
