"""Where the bank's companions live: data files given to runs, solutions, the sandbox choice."""

from __future__ import annotations

import os
from pathlib import Path

from grader.bank import default_bank_dir
from grader.errors import BadInput
from grader.models import CodeItem
from sandbox.backends import open_sandbox
from sandbox.base import Sandbox
from sandbox.settings import REPO_ROOT

DATA_CAP = 16 * 1024 * 1024


def default_solutions_dir() -> Path:
    configured = os.environ.get("GRADER_SOLUTIONS")
    return Path(configured) if configured else REPO_ROOT / "solutions"


def item_data(item: CodeItem) -> dict[str, bytes]:
    """The files an item names under the bank's data/ folder, as `data/<name>` in the run."""
    folder = default_bank_dir() / "data"
    files = {}
    for name in item.data:
        path = folder / name
        if not path.is_file() or path.stat().st_size > DATA_CAP:
            raise BadInput(f"{item.id}: data file {path} is missing or over 16 MiB")
        files[f"data/{name}"] = path.read_bytes()
    return files


def sandbox_for(name: str | None) -> Sandbox:
    """The chosen backend (`--backend`, else $GRADER_BACKEND, else the process sandbox)."""
    return open_sandbox(name or os.environ.get("GRADER_BACKEND") or "process")
