"""A public fake sandbox for tests of the grader, the CLI and the service.

`FakeSandbox(handler)` answers every request with whatever `handler` returns (a canned
`RunResult`, or one built from the request). `FakeSandbox.local()` runs the program with the host's
own Python in a temporary folder: no isolation at all, so only for trusted test programs that
need no torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.base import CHANNEL_ENV, Isolation, RunRequest, RunResult

Handler = Callable[[RunRequest], RunResult]


def result(
    channel: bytes = b"",
    *,
    exit_code: int | None = 0,
    stdout: bytes = b"",
    stderr: bytes = b"",
    **flags: bool,
) -> RunResult:
    """A RunResult with sensible defaults; `flags` sets timed_out, memory_exceeded, ..."""
    return RunResult(
        exit_code=exit_code,
        signal=None,
        stdout=stdout,
        stderr=stderr,
        channel=channel,
        timed_out=flags.get("timed_out", False),
        memory_exceeded=flags.get("memory_exceeded", False),
        output_exceeded=flags.get("output_exceeded", False),
        channel_exceeded=flags.get("channel_exceeded", False),
        wall_s=0.0,
        cpu_s=None,
        peak_memory_bytes=None,
        isolation=Isolation(),
        backend="fake",
    )


class FakeSandbox:
    """Answers runs through a handler and records every request it was given."""

    name = "fake"

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RunRequest] = []

    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        return None

    @classmethod
    def local(cls) -> FakeSandbox:
        return cls(run_locally)


def run_locally(request: RunRequest) -> RunResult:
    """Run with the host's python, the channel in a file: for trusted test programs only."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, data in request.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        channel = root / ".channel"
        argv = [
            sys.executable if request.argv[0] == "python" else request.argv[0],
            *request.argv[1:],
        ]
        env = {"PATH": os.environ.get("PATH", ""), CHANNEL_ENV: str(channel), **request.env}
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                cwd=root,
                env=env,
                input=request.stdin,
                capture_output=True,
                timeout=request.limits.wall_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return result(exit_code=None, timed_out=True)
        data = channel.read_bytes() if channel.exists() else b""
        outcome = result(data, exit_code=done.returncode, stdout=done.stdout, stderr=done.stderr)
        return RunResult(**{**vars(outcome), "wall_s": time.monotonic() - started})
