"""One run of the process sandbox: stage, launch, pump the pipes, kill what is left, collect.

The host never reads back from the program's workdir: the program's home is a tmpfs inside the
jail holding a copy of what the host staged, and everything the host learns comes through pipes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.base import RunRequest
from sandbox.errors import SandboxFailure
from sandbox.process.cgroups import RunCgroups, Usage
from sandbox.process.pump import Capture, PipeOutcome, Pump
from sandbox.process.spec import LaunchSpec

LAUNCHER = Path(__file__).with_name("launcher.py")
_STATUS_CAP = 64 * 1024


@dataclass
class Finished:
    """What the host saw of one run, before it becomes a `RunResult`."""

    outcome: PipeOutcome
    captures: dict[str, Capture]
    exit_code: int | None
    signal: int | None
    rusage_cpu_s: float
    rusage_peak_bytes: int
    usage: Usage


class Job:
    """Launch the launcher with its spec and the run's pipes; `run()` returns once all is dead."""

    def __init__(self, request: RunRequest, spec: LaunchSpec, staging: Path) -> None:
        self.request = request
        self.spec = spec
        self.staging = staging
        self.direct = spec.mode == "direct"

    def run(self, cgroups: RunCgroups, channel: tuple[int, int]) -> Finished:
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        status_r, status_w = os.pipe()
        spec_path = self.staging / "spec.json"
        spec_path.write_text(self.spec.to_json(status_fd=status_w))
        try:
            proc = self._popen(spec_path, (stdin_r, stdout_w, stderr_w), (channel[1], status_w))
        finally:
            for fd in (stdin_r, stdout_w, stderr_w, status_w, channel[1]):
                os.close(fd)
        captures = self._captures(stdout_r, stderr_r, channel[0], status_r)
        return self._follow(proc, cgroups, stdin_w, captures)

    def _popen(
        self, spec: Path, stdio: tuple[int, int, int], fds: tuple[int, int]
    ) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-I", "-S", "-B", str(LAUNCHER), str(spec)]
        try:
            return subprocess.Popen(
                argv,
                stdin=stdio[0],
                stdout=stdio[1],
                stderr=stdio[2],
                pass_fds=fds,
                start_new_session=True,
                env={},
                cwd=self.staging,
            )
        except OSError as exc:
            raise SandboxFailure(f"cannot start the process sandbox launcher: {exc}") from exc

    def _captures(self, stdout: int, stderr: int, channel: int, status: int) -> dict[int, Capture]:
        limits = self.request.limits
        return {
            stdout: Capture("stdout", limits.output_bytes),
            stderr: Capture("stderr", limits.output_bytes),
            channel: Capture("channel", limits.channel_bytes),
            status: Capture("status", _STATUS_CAP),
        }

    def _follow(
        self,
        proc: subprocess.Popen[bytes],
        cgroups: RunCgroups,
        stdin_w: int,
        captures: dict[int, Capture],
    ) -> Finished:
        limits = self.request.limits
        deadline = time.monotonic() + limits.wall_s

        def over_cpu() -> str | None:
            used = cgroups.cpu_s()
            return "cpu" if used is not None and used > limits.cpu_s else None

        pump = Pump(captures, stdin_w, self.request.stdin, deadline, lambda: _exited(proc.pid))
        pump.check = over_cpu
        outcome = pump.run()
        _kill_group(proc.pid)  # the leader is a zombie at most: its pid cannot be reused yet
        cgroups.kill_all()
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        by_name = {capture.name: capture for capture in captures.values()}
        code, sig = self._exit_status(status, by_name["status"], outcome)
        return Finished(
            outcome=outcome,
            captures=by_name,
            exit_code=code,
            signal=sig,
            rusage_cpu_s=rusage.ru_utime + rusage.ru_stime,
            rusage_peak_bytes=rusage.ru_maxrss * 1024,
            usage=cgroups.usage(),
        )

    def _exit_status(
        self, wait_status: int, status: Capture, outcome: PipeOutcome
    ) -> tuple[int | None, int | None]:
        """Direct mode: the launcher became the program. Otherwise init's report says."""
        if self.direct:
            if os.WIFSIGNALED(wait_status):
                return None, os.WTERMSIG(wait_status)
            return os.WEXITSTATUS(wait_status), None
        report = _last_report(status)
        if "error" in report:
            raise SandboxFailure(f"process sandbox setup failed: {report['error']}")
        if "exit_code" in report:
            return int(report["exit_code"]), None
        if "signal" in report:
            return None, int(report["signal"])
        if outcome.stop is not None:
            return None, int(signal.SIGKILL)  # the host killed the run before the program ended
        code = os.waitstatus_to_exitcode(wait_status)
        raise SandboxFailure(f"process sandbox launcher ended without a status (exit {code})")


def _last_report(status: Capture) -> dict[str, Any]:
    for line in reversed(bytes(status.data).splitlines()):
        with contextlib.suppress(ValueError):
            report = json.loads(line)
            if isinstance(report, dict):
                return report
    return {}


def _exited(pid: int) -> bool:
    """Whether the launcher has ended, without reaping it (its rusage is read later)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
