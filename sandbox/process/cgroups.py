"""Per-run cgroups (v1) for the process sandbox: memory, pids and cpuacct.

Each run gets a child of the grader's own cgroup in every controller, so an operator's limit on
the grader still caps its jobs. The launcher moves the program in before it execs; the host reads
the counters afterwards, kills whatever is left and removes the groups. A group's name carries
its owner's tag (`staging.owner_tag`): `sweep` kills what a dead grader's groups still hold (a
server killed with SIGKILL mid-run) and removes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import SandboxFailure
from sandbox.process import staging

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpuacct")
_EMPTY_WAIT_S = 5.0
#: How often a run's CPU time is read while it runs: a run stops at most this late past its limit.
CPU_READ_EVERY_S = 0.01


def _own_path(controller: str) -> str | None:
    """This process's cgroup path in a v1 controller, or None when it is not mounted."""
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    return None


def available() -> frozenset[str]:
    """The controllers in which this process may create child groups."""
    found = set()
    for controller in CONTROLLERS:
        parent = _parent_dir(controller)
        if parent is None:
            continue
        probe = parent / f"grader-probe-{secrets.token_hex(4)}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError:
            continue
        found.add(controller)
    return frozenset(found)


def _parent_dir(controller: str) -> Path | None:
    mount = CGROUP_ROOT / controller
    own = _own_path(controller)
    if own is None or not (mount / "cgroup.procs").exists():
        return None
    parent = mount / own.lstrip("/")
    return parent if parent.is_dir() else None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Usage:
    """What the counters said at the end of a run."""

    cpu_s: float | None = None
    peak_memory_bytes: int | None = None
    oom_killed: bool = False
    memory_failcnt: int = 0


class RunCgroups:
    """The cgroups of one run; a context manager that removes them on exit."""

    def __init__(self, controllers: frozenset[str]) -> None:
        self.name = f"grader-run-{staging.owner_tag()}-{secrets.token_hex(8)}"
        self.dirs: dict[str, Path] = {}
        self._cpu_read_after = 0.0  # monotonic time of the next CPU reading (`over_cpu`)
        for controller in sorted(controllers):
            parent = _parent_dir(controller)
            if parent is None:
                continue
            path = parent / self.name
            try:
                path.mkdir(mode=0o755)
            except OSError as exc:
                self.remove()
                raise SandboxFailure(f"cannot create cgroup {path}: {exc}") from exc
            self.dirs[controller] = path

    @classmethod
    def adopt(cls, name: str, dirs: dict[str, Path]) -> RunCgroups:
        """The existing groups `dirs` (controller -> path), to kill and remove."""
        groups = cls(frozenset())
        groups.name, groups.dirs = name, dirs
        return groups

    def __enter__(self) -> RunCgroups:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_all()
        self.remove()

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Memory with swap off (memsw equal to the memory limit) and a cap on tasks."""
        memory = self.dirs.get("memory")
        if memory is not None:
            self._write(memory / "memory.limit_in_bytes", memory_bytes)
            memsw = memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                self._write(memsw, memory_bytes)
        pids = self.dirs.get("pids")
        if pids is not None:
            self._write(pids / "pids.max", processes)

    @staticmethod
    def _write(path: Path, value: int) -> None:
        try:
            path.write_text(str(value))
        except OSError as exc:
            raise SandboxFailure(f"cannot set {path}: {exc}") from exc

    def over_cpu(self, limit_s: float) -> bool:
        """Whether the run has used more than `limit_s` of CPU. Read at most every
        `CPU_READ_EVERY_S`: the pump asks after every chunk it reads."""
        now = time.monotonic()
        if now < self._cpu_read_after:
            return False
        self._cpu_read_after = now + CPU_READ_EVERY_S
        used = self.cpu_s()
        return used is not None and used > limit_s

    def cpu_s(self) -> float | None:
        cpuacct = self.dirs.get("cpuacct")
        if cpuacct is None:
            return None
        usage = _read_int(cpuacct / "cpuacct.usage")
        return None if usage is None else usage / 1e9

    def usage(self) -> Usage:
        memory = self.dirs.get("memory")
        if memory is None:
            return Usage(cpu_s=self.cpu_s())
        oom = (memory / "memory.oom_control").read_text()
        kills = [line.split()[1] for line in oom.splitlines() if line.startswith("oom_kill ")]
        return Usage(
            cpu_s=self.cpu_s(),
            peak_memory_bytes=_read_int(memory / "memory.max_usage_in_bytes"),
            oom_killed=bool(kills) and int(kills[0]) > 0,
            memory_failcnt=_read_int(memory / "memory.memsw.failcnt")
            or _read_int(memory / "memory.failcnt")
            or 0,
        )

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self) -> None:
        """SIGKILL every process in the groups until they are empty (bounded wait). Safe from
        another thread than the run's (a sandbox closing while a job still runs)."""
        deadline = time.monotonic() + _EMPTY_WAIT_S
        while self.signal_all() and time.monotonic() < deadline:
            time.sleep(0.01)

    def signal_all(self) -> bool:
        """SIGKILL every process in the groups once, without waiting for them to die; whether
        any was there."""
        for path in list(self.dirs.values()):
            kill = path / "cgroup.kill"  # cgroup v2 (Linux >= 5.14): the kernel kills them all
            if kill.exists():
                with contextlib.suppress(OSError):
                    kill.write_text("1")
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return bool(pids)

    def remove(self) -> None:
        for path in list(self.dirs.values()):
            deadline = time.monotonic() + _EMPTY_WAIT_S
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        log.warning("cgroup %s left behind: %s", path, exc)
                        break
                    time.sleep(0.02)
        self.dirs = {}


def sweep(controllers: frozenset[str]) -> list[str]:
    """Kill what the groups of dead graders still hold and remove them; their names."""
    stale: dict[str, dict[str, Path]] = {}
    for controller in sorted(controllers):
        parent = _parent_dir(controller)
        with contextlib.suppress(OSError):
            for path in parent.iterdir() if parent is not None else ():
                if path.is_dir() and staging.owner_gone(path.name):
                    stale.setdefault(path.name, {})[controller] = path
    for name, dirs in stale.items():
        with RunCgroups.adopt(name, dirs):
            pass
    if stale:
        log.warning("removed %d cgroup(s) of dead graders: %s", len(stale), ", ".join(stale))
    return sorted(stale)
