"""Closing a sandbox while another thread is inside `run()` (a server stopping mid-job): the run
ends at once with a `SandboxFailure`, not a verdict; nothing it started is left (no process, no
staging folder, no container); the sandbox refuses later runs. Each backend opens a sandbox of
its own here: the shared ones of `conftest.py` must stay open."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.base import Limits, RunRequest, Sandbox
from sandbox.errors import SandboxFailure, SandboxUnavailable
from sandbox.settings import SandboxSettings
from tests.sandbox.conftest import VARIANTS, _wait_warm

#: Names itself (PR_SET_NAME: so the test finds it), then burns a core until it is killed.
BURN = (
    "import ctypes\nctypes.CDLL(None).prctl(15, b'grader-burn', 0, 0, 0)\nwhile True:\n    pass\n"
)
REQUEST = RunRequest(argv=("python", "-c", BURN), limits=Limits(wall_s=120, cpu_s=120))


def burners() -> list[int]:
    """The burning programs on this host (a container's too: they share its kernel)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "grader-burn":
                if "State:\tZ" not in (entry / "status").read_text():  # a zombie burns nothing
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


#: Not docker-warm: the last close of a Docker warm pool removes every warm container this
#: process labelled, busy ones included (`DockerWarm.close`), which here would take the shared
#: fixture's pool down with it.
CLOSABLE = [variant for variant in VARIANTS if variant != "docker-warm"]


@pytest.fixture(params=CLOSABLE)
def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    """A sandbox of the variant of its own, its temporary folder `tmp_path`."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    backend, warm = VARIANTS[request.param]
    settings = SandboxSettings(warm=warm, pool_size=1)
    try:
        if backend == "process":
            from sandbox.process import ProcessSandbox

            opened: Sandbox = ProcessSandbox(settings)
            if warm and getattr(opened, "warm", None) is None:
                pytest.skip("process-warm: no warm pool here (it needs root and cgroups)")
        else:
            from sandbox.container import ContainerSandbox

            opened = ContainerSandbox(settings)
    except SandboxUnavailable as exc:
        pytest.skip(f"{request.param} backend unavailable: {exc}")
    prestart: Callable[[], None] | None = getattr(opened, "prestart", None)
    if prestart is not None:
        prestart()
    _wait_warm(opened)
    yield opened
    opened.close()


def test_close_ends_a_run_in_flight_and_leaves_nothing(fresh: Sandbox, tmp_path: Path) -> None:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            fresh.run(REQUEST)
        except SandboxFailure as exc:
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 120
    while not burners():
        assert time.monotonic() < deadline and worker.is_alive(), "the run never started"
        time.sleep(0.05)
    time.sleep(1.0)

    begun = time.monotonic()
    fresh.close()
    worker.join(60)
    assert not worker.is_alive() and time.monotonic() - begun < 30
    assert failures, "the run returned a result although its sandbox was killed under it"
    assert "closed" in str(failures[0])
    assert burners() == []
    if fresh.name == "process":
        assert list(tmp_path.iterdir()) == [], "a staging folder was left behind"
    with pytest.raises(SandboxFailure, match="closed"):
        fresh.run(REQUEST)


@pytest.mark.skipif(os.geteuid() != 0, reason="the process sandbox's warm pool needs root")
def test_the_last_close_kills_a_zygote_still_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-shot `grader check` closes its sandbox before the warm pool is ready: the zygote
    still importing torch goes too, and its folder with it."""
    from sandbox.process import ProcessSandbox

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # A pool of its own: the shared runners are per settings, and no other test uses these.
    settings = SandboxSettings(warm=True, pool_size=1, pool_idle_s=7.0)
    try:
        sandbox = ProcessSandbox(settings)
    except SandboxUnavailable as exc:
        pytest.skip(f"process backend unavailable: {exc}")
    if sandbox.warm is None:
        pytest.skip("no warm pool here (it needs root and cgroups)")
    sandbox.prestart()
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("grader-zygote-*/zygote.log")):
        assert time.monotonic() < deadline, "no zygote started"
        time.sleep(0.02)
    assert not sandbox.warm_ready()
    begun = time.monotonic()
    sandbox.close()
    assert time.monotonic() - begun < 10
    assert list(tmp_path.iterdir()) == [], "the starting zygote's folder was left behind"
