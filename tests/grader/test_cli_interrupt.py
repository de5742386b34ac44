"""A one-shot `grader check` stopped mid-run (Ctrl-C, or SIGTERM from a timeout or a service
manager) says `error: interrupted`, exits 3, and leaves nothing behind: no process of the run,
no zygote, no folder in its temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from grader.ops.loopback import GRADER, clean_env
from sandbox.home import grader_home
from sandbox.process.jail import Runtime
from sandbox.settings import SandboxSettings
from tests.sandbox.test_close import burners

#: Names itself (PR_SET_NAME: so the test finds it), then burns a core until it is killed.
BURN = b"""\
import ctypes

ctypes.CDLL(None).prctl(15, b"grader-burn", 0, 0, 0)
while True:
    pass
"""


def burning() -> list[int]:
    return burners()


def default_sigint() -> None:
    """A child started from a non-interactive shell may inherit SIGINT ignored: undo that, as a
    terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.torch
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_check_leaves_nothing_behind(tmp_path: Path, sig: signal.Signals) -> None:
    runtime = SandboxSettings().runtime
    if Runtime.find(runtime) is None:
        pytest.skip(f"no sandbox runtime at {runtime}: run `make runtime`")
    submission = tmp_path / "burn.py"
    submission.write_bytes(BURN)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = clean_env({"TMPDIR": str(tmpdir), "GRADER_BACKEND": "process", "GRADER_DAEMON": "0"})
    check = subprocess.Popen(
        [*GRADER, "check", "binary-metrics", str(submission)],
        cwd=grader_home(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,  # before exec; this process starts no threads of its own
    )
    try:
        deadline = time.monotonic() + 120
        while not burning():
            assert check.poll() is None, check.communicate()
            assert time.monotonic() < deadline, "the submission never started burning"
            time.sleep(0.1)
        check.send_signal(sig)
        _, err = check.communicate(timeout=30)
    finally:
        if check.poll() is None:
            check.kill()
            check.wait()
    assert (check.returncode, err.decode().strip().splitlines()[-1]) == (3, "error: interrupted")
    time.sleep(0.2)  # the killed program's last exit
    assert burning() == []
    assert sorted(os.listdir(tmpdir)) == []
