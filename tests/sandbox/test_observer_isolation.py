"""The runner (student code) against the observer, on every backend and path: it cannot signal
the observer or read its memory or descriptors, holds no descriptor but stdout, stderr and its
data pipe, reads nothing on stdin, and never had the run's nonce in its memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from grader.bank import load_item
from grader.models import CodeItem
from grader.probe.plan import build_plan
from grader.probe.run import run_harness
from grader.probe.summaries import plain
from sandbox.base import Sandbox

ITEM = """\
schema_version: 1
id: spy
kind: code
title: Spy
prompt: Define report().
difficulty: easy
explanation: None.
starter: "def report(): ..."
contract: [{name: report, signature: "report() -> dict"}]
limits: {wall_s: 60, memory_mb: 2048}
checks:
  - name: report
    message: What the runner can reach.
    call: {function: report}
    expect: {no_error: true}
"""

SPY = r'''
import hashlib, os, re, signal

def _hex_runs():
    """sha256 of every 32-hex-digit run in this process's memory (regions up to 64 MiB)."""
    seen = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or end - start > 64 << 20 or fields[-1] == "[vvar]":
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            for run in re.findall(rb"[0-9a-f]{32}", chunk):
                seen.add(hashlib.sha256(run).hexdigest())
    return sorted(seen)

def report():
    observer = os.getppid()
    out = {"uids": [os.getuid(), os.geteuid(), os.stat("submission.py").st_uid]}
    for name, number in (("signal", 0), ("stop", signal.SIGSTOP)):
        try:
            os.kill(observer, number)
            out[name] = "allowed"
        except PermissionError:
            out[name] = "denied"
    for name in ("mem", "fd/1", "environ"):
        try:
            open(f"/proc/{observer}/{name}", "rb").read(1)
            out[name] = "readable"
        except OSError:
            out[name] = "denied"
    out["fds"] = len(os.listdir("/proc/self/fd"))
    out["stdin"] = os.read(0, 100).decode(errors="replace")
    out["hex"] = _hex_runs()
    return out
'''


@pytest.fixture(scope="module")
def item(tmp_path_factory: pytest.TempPathFactory) -> CodeItem:
    path = tmp_path_factory.mktemp("bank") / "spy.yaml"
    path.write_text(ITEM)
    loaded, issues = load_item(path)
    assert isinstance(loaded, CodeItem), issues
    return loaded


def test_the_runner_cannot_reach_the_observer(sandbox: Sandbox, item: CodeItem) -> None:
    plan = build_plan(item.checks)
    run = run_harness(sandbox, item, SPY, {}, plan)
    observation = run.observations.get("report")
    assert observation is not None and "result" in observation, observation
    seen = plain(observation["result"])
    runner_uid, runner_euid, observer_uid = seen["uids"]
    assert runner_uid == runner_euid != observer_uid  # its own uid, not the observer's
    assert seen["signal"] == seen["stop"] == "denied"
    assert seen["mem"] == seen["fd/1"] == seen["environ"] == "denied"
    assert seen["fds"] <= 5  # 0, 1, 2, the data pipe, and the listing's own descriptor
    assert seen["stdin"] == ""
    assert hashlib.sha256(plan.nonce.encode()).hexdigest() not in seen["hex"]
    assert run.observations.done


def test_the_spy_would_find_a_nonce_it_held(tmp_path: Path) -> None:
    """The memory scan is not blind: in a process that holds a nonce, it finds it."""
    import subprocess
    import sys

    nonce = "0123456789abcdef" * 2
    code = SPY + f"\nheld = {nonce!r}.encode()\nprint(_hex_runs())\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    assert hashlib.sha256(nonce.encode()).hexdigest() in done.stdout
