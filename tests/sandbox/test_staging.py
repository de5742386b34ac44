"""What a process sandbox leaves behind: nothing of a live owner's is touched, everything of a
dead owner's goes when the next sandbox opens (folders in $TMPDIR and cgroups with what they
still hold)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sandbox.process import ProcessSandbox, staging
from sandbox.process import cgroups as process_cgroups
from sandbox.settings import SandboxSettings

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="cgroups and the jail need root")


def dead_tag() -> str:
    """The tag of a process that has ended (its pid may be reused: the start time differs)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tag = staging.owner_tag(child.pid)
    child.wait()
    return tag


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temporary folder for everything `tempfile` makes in this test."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_folder_is_named_after_its_live_owner(tmpdir_here: Path) -> None:
    made = staging.make("run")
    assert made.parent == tmpdir_here
    namespace = os.stat("/proc/self/ns/pid").st_ino
    tag = f"{namespace}.{os.getpid()}.{staging.start_ticks(os.getpid())}"
    assert made.name.startswith(f"grader-run-{tag}-")
    assert not staging.owner_gone(made.name)


def test_the_sweep_removes_dead_owners_folders_and_keeps_the_rest(tmpdir_here: Path) -> None:
    dead = dead_tag()
    gone = [tmpdir_here / f"grader-run-{dead}-abc", tmpdir_here / f"grader-zygote-{dead}-xyz"]
    for folder in gone:
        (folder / "files").mkdir(parents=True)
        (folder / "files" / "submission.py").write_text("x = 1\n")
    live = staging.make("zygote")
    untagged = tmpdir_here / "grader-run-k_l0ssnv"  # made before owners were named: whose?
    untagged.mkdir()
    elsewhere = tmpdir_here / f"grader-run-1{dead}-abc"  # another pid namespace's: unknowable
    elsewhere.mkdir()
    planted = tmpdir_here / "elsewhere"
    planted.mkdir()
    (planted / "keep").write_text("keep")
    link = tmpdir_here / f"grader-run-{dead}-link"
    link.symlink_to(planted)

    assert sorted(staging.sweep()) == sorted(gone)
    assert not any(folder.exists() for folder in gone)
    assert live.is_dir() and untagged.is_dir() and elsewhere.is_dir()
    assert link.is_symlink() and (planted / "keep").read_text() == "keep"


@needs_root
def test_the_sweep_kills_what_a_dead_owners_cgroups_hold_and_removes_them() -> None:
    controllers = process_cgroups.available()
    if not controllers:
        pytest.skip("no cgroup v1 controller can be delegated here")
    groups = process_cgroups.RunCgroups(controllers)
    stale = {c: p.with_name(f"grader-run-{dead_tag()}-0123") for c, p in groups.dirs.items()}
    groups.remove()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for path in stale.values():
            path.mkdir()
            (path / "cgroup.procs").write_text(str(sleeper.pid))
        live = process_cgroups.RunCgroups(controllers)
        with live:
            assert next(iter(stale.values())).name in process_cgroups.sweep(controllers)
            assert all(path.is_dir() for path in live.dirs.values())
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
        assert not [path for path in stale.values() if path.exists()]
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture(scope="module")
def settings() -> SandboxSettings:
    settings = SandboxSettings(warm=False)
    if not (settings.runtime / "bin" / "python").exists():
        pytest.skip(f"no sandbox runtime at {settings.runtime}: run `make runtime`")
    return settings


def test_opening_a_sandbox_sweeps_the_temporary_folder(
    settings: SandboxSettings, tmpdir_here: Path
) -> None:
    dead = tmpdir_here / f"grader-run-{dead_tag()}-abc"
    dead.mkdir()
    live = staging.make("run")
    sandbox = ProcessSandbox(settings)
    try:
        assert not dead.exists() and live.is_dir()
    finally:
        sandbox.close()
