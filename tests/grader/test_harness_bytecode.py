"""The harness travels with its bytecode, and the importer uses it only while it matches its
source (checked hash-based .pyc files, PEP 552)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grader.probe.harness import HARNESS_ARGV, HARNESS_CODE, HARNESS_FILES, harness_files

#: Harness modules the host's interpreter can import (the others import torch at the top).
PLAIN = ("wire", "inputs", "watch", "derive")


def _write(folder: Path) -> None:
    for name, data in harness_files().items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _loaded_bytecode(folder: Path) -> set[str]:
    """The harness modules the importer ran from their .pyc (`python -v` says which)."""
    code = f"import sys; sys.path.insert(0, 'harness'); import {', '.join(PLAIN)}"
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-v", "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    said = [line for line in done.stderr.splitlines() if line.startswith("# code object from")]
    return {m for m in PLAIN if any(f"/harness/__pycache__/{m}." in line for line in said)}


def test_every_module_has_its_bytecode_beside_it() -> None:
    files = harness_files()
    tag = sys.implementation.cache_tag
    for name in HARNESS_FILES:
        assert f"harness/{name}" in files
        assert f"harness/__pycache__/{name[:-3]}.{tag}.pyc" in files
    assert HARNESS_ARGV == ("python", "-I", "-c", HARNESS_CODE)


def test_the_importer_loads_the_bytecode_it_was_sent(tmp_path: Path) -> None:
    _write(tmp_path)
    assert _loaded_bytecode(tmp_path) == set(PLAIN)


def test_a_source_that_changed_is_compiled_again_never_run_stale(tmp_path: Path) -> None:
    _write(tmp_path)
    wire = tmp_path / "harness" / "wire.py"
    wire.write_text(wire.read_text() + "\nEDITED = True\n")
    assert _loaded_bytecode(tmp_path) == set(PLAIN) - {"wire"}
