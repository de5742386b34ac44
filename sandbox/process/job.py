"""One run of the process sandbox: stage, launch, pump the pipes, kill what is left, collect.

The host never reads back from the program's workdir: the program's home is a tmpfs inside the
jail holding a copy of what the host staged, and everything the host learns comes through pipes.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
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

    def __init__(self, request: RunRequest, staging: Path, cgroups: RunCgroups) -> None:
        self.request = request
        self.staging = staging
        self.cgroups = cgroups
        self.direct = False
        self._lock = threading.Lock()
        self._leader: int | None = None  # the launcher's pid (its group's id) until reaped
        self._killed = False

    def kill(self) -> None:
        """End the run now, from any thread (its sandbox closing): the jail through init, the
        launcher's process group, the cgroups. A run not launched yet never starts (`run()`
        raises `SandboxFailure`)."""
        with self._lock:
            self._killed = True
            if self._leader is not None:  # not reaped yet: the group id cannot be reused
                kill_run(self._leader)
        self.cgroups.kill_all()

    def run(self, spec: LaunchSpec, channel: tuple[int, int]) -> Finished:
        """Launch `spec` with `channel` (its write end is the program's, the read end ours)."""
        self.direct = spec.mode == "direct"
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        status_r, status_w = os.pipe()
        spec_path = self.staging / "spec.json"
        spec_path.write_text(spec.to_json(status_fd=status_w))
        try:
            proc = self._popen(spec_path, (stdin_r, stdout_w, stderr_w), (channel[1], status_w))
        except BaseException:
            for fd in (stdin_w, stdout_r, stderr_r, status_r, channel[0]):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, stdout_w, stderr_w, status_w, channel[1]):
                os.close(fd)
        captures = self._captures(stdout_r, stderr_r, channel[0], status_r)
        return self._follow(proc, stdin_w, captures)

    def _popen(
        self, spec: Path, stdio: tuple[int, int, int], fds: tuple[int, int]
    ) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-I", "-S", "-B", str(LAUNCHER), str(spec)]
        with self._lock:
            if self._killed:
                raise SandboxFailure("the process sandbox was closed before the run started")
            try:
                proc = subprocess.Popen(
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
            self._leader = proc.pid
        return proc

    def _captures(self, stdout: int, stderr: int, channel: int, status: int) -> dict[int, Capture]:
        limits = self.request.limits
        return {
            stdout: Capture("stdout", limits.output_bytes),
            stderr: Capture("stderr", limits.output_bytes),
            channel: Capture("channel", limits.channel_bytes),
            status: Capture("status", _STATUS_CAP),
        }

    def _follow(
        self, proc: subprocess.Popen[bytes], stdin_w: int, captures: dict[int, Capture]
    ) -> Finished:
        limits = self.request.limits
        deadline = time.monotonic() + limits.wall_s
        cgroups = self.cgroups

        def over_cpu() -> str | None:
            return "cpu" if cgroups.over_cpu(limits.cpu_s) else None

        pump = Pump(captures, stdin_w, self.request.stdin, deadline, lambda: _exited(proc.pid))
        pump.check = over_cpu
        try:
            outcome = pump.run()
        finally:  # an interrupt (Ctrl-C in `grader check`) too: nothing of the run outlives it
            status, rusage = self._reap(proc)
        by_name = {capture.name: capture for capture in captures.values()}
        code, sig = self._exit_status(status, by_name["status"], outcome)
        return Finished(
            outcome=outcome,
            captures=by_name,
            exit_code=code,
            signal=sig,
            rusage_cpu_s=rusage.ru_utime + rusage.ru_stime,
            rusage_peak_bytes=self._peak_bytes(by_name["status"], rusage),
            usage=cgroups.usage(),
        )

    def _reap(self, proc: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
        """Kill what is left of the run and reap the launcher: its wait status and rusage."""
        with self._lock:
            kill_run(proc.pid)  # the leader is a zombie at most: its pid cannot be reused yet
            self.cgroups.kill_all()
            _, status, rusage = os.wait4(proc.pid, 0)
            self._leader = None
        proc.returncode = os.waitstatus_to_exitcode(status)
        return status, rusage

    def _peak_bytes(self, status: Capture, rusage: resource.struct_rusage) -> int:
        """Init's word on the program's peak when there is one: the launcher's own peak also
        holds the host's memory at the fork (Linux keeps a process's peak across exec)."""
        peak = None if self.direct else _last_report(status).get("peak_bytes")
        return peak if isinstance(peak, int) and peak >= 0 else rusage.ru_maxrss * 1024

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


def kill_run(leader: int, wait_s: float = 1.0) -> None:
    """SIGKILL what a launcher (`leader`, our unreaped child) runs: first its children (init,
    whose death ends the jail's pid namespace), so that the launcher reaps init and exits; then
    the whole process group. Killed together with its launcher, init would be left a zombie for
    PID 1 to reap (a grader running as PID 1 never does)."""
    for child in _children(leader):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while not _ended(leader) and time.monotonic() < deadline:
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except (OSError, ValueError):
        return []


def _ended(pid: int) -> bool:
    """`_exited`, where another thread may have reaped it already."""
    try:
        return _exited(pid)
    except ChildProcessError:
        return True
