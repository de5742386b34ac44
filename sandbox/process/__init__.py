"""The local process sandbox, the embedded default backend.

Run as root on Linux it gives each run: fresh mount, network, pid, ipc and uts namespaces; a
minimal read-only root (see `jail.py`); a uid of its own with no capabilities, no_new_privs
and a seccomp filter (no user namespaces), plus a second uid as its real uid, which a child may
take and the program may drop (the harness's runner: docs/trust-model.md); per-run cgroups for
memory (swap off), processes and CPU accounting; rlimits for CPU, file size, core dumps and
processes; stdout, stderr and the observation channel (`CHANNEL_ENV=fd:N`, a pipe) read
concurrently with caps. When the program ends, init (pid 1 of the run) exits and the kernel kills
whatever it left. Elsewhere it runs what it can (rlimits, a scrubbed env, a process-group kill),
says in `RunResult.isolation` what was missing, and refuses to run when the operator requires it
(`GRADER_REQUIRE_ISOLATION`).

`close()` ends everything the sandbox started, from any thread: the runs in flight (a cold run's
process group and cgroups, a warm job's cgroups), then, with the last user of the shared warm
pool, every zygote (those still starting too). Staging folders go when their run or zygote ends;
those a dead grader left (and its cgroups, with what they still hold) go when a sandbox opens.

    __init__.py  ProcessSandbox: probe the host, check the request, assemble results
    jail.py      the jail's plan: mounts, env, rlimits, uids
    spec.py      the launcher's spec and a warm job's payload, typed (they travel as JSON)
    job.py       one run: launch, pump, kill, collect
    pump.py      the capped, concurrent pipe reader
    live.py      what is running (runs, jobs, zygotes), for closing to kill
    staging.py   the temporary folders, named after their owner; the sweep of dead owners'
    cgroups.py   per-run cgroups v1
    seccomp.py   the seccomp filter, assembled on the host
    launcher.py  runs in the jail's namespaces (stdlib only)
    warm.py      the warm path: pooled zygotes (torch imported), a forked child per job
    zygote.py    the zygote, inside the jail (stdlib only)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sandbox.base import CHANNEL_ENV, GpuPolicy, Isolation, Limits, RunRequest, RunResult
from sandbox.errors import IsolationRefused, SandboxFailure, SandboxUnavailable
from sandbox.process import cgroups as process_cgroups
from sandbox.process import jail as process_plan
from sandbox.process import seccomp as process_seccomp
from sandbox.process import staging as process_staging
from sandbox.process.cgroups import RunCgroups
from sandbox.process.jail import HOME, Runtime
from sandbox.process.job import Finished, Job
from sandbox.process.live import Killable, Live
from sandbox.process.spec import LaunchSpec
from sandbox.process.warm import WarmRunner, release_runner, shared_runner
from sandbox.settings import SANDBOX_TORCH_HOME, SandboxSettings


class ProcessSandbox:
    """Runs programs under the runtime's Python, isolated as far as this host allows."""

    name = "process"

    def __init__(
        self, settings: SandboxSettings, *, jail: bool = True, cgroups: bool = True
    ) -> None:
        """`jail=False` or `cgroups=False` turn those isolations off (tests of the fallbacks)."""
        runtime = Runtime.find(settings.runtime)
        if runtime is None:
            raise SandboxUnavailable(
                f"process sandbox: no Python runtime at {settings.runtime} "
                "(set GRADER_RUNTIME to a venv with torch, or run `make runtime`)"
            )
        self.settings = settings
        self.runtime = runtime
        self.root = os.geteuid() == 0
        self.controllers = process_cgroups.available() if cgroups else frozenset()
        process_staging.sweep()  # what graders that died left behind
        process_cgroups.sweep(self.controllers)
        self._live: Live[Killable] = Live("process sandbox")
        self.seccomp = process_seccomp.program()
        self.namespaces = self.root and jail
        self.degraded: str | None = None
        if not self.root:
            self.degraded = "not running as root"
        elif not jail:
            self.degraded = "the jail was turned off"
        else:
            self._probe_namespaces()
        self.warm: WarmRunner | None = None
        if settings.warm and WarmRunner.usable(self.controllers, self.namespaces, self.root):
            self.warm = shared_runner(settings, runtime, self.controllers, self.seccomp)

    def warm_ready(self) -> bool:
        """Whether the warm pool is full and idle (the benchmark waits for this)."""
        if self.warm is None:
            return True
        counts = self.warm.pool.counts()
        return counts["ready"] >= self.warm.pool.size and not counts["starting"]

    def prestart(self) -> None:
        """Start the warm pool now, ahead of demand (no-op when runs are cold)."""
        if self.warm is not None:
            self.warm.pool.prestart()

    def _probe_namespaces(self) -> None:
        """One tiny run in the full jail; a host that refuses it gets the direct mode."""
        probe = RunRequest(argv=("/bin/true",), limits=Limits(wall_s=10, memory_bytes=256 << 20))
        try:
            result = self._run(probe, self.isolation(probe.limits))
        except SandboxFailure as exc:
            self.namespaces, self.degraded = False, str(exc)
            return
        if result.exit_code != 0:
            self.namespaces = False
            self.degraded = f"probe run failed: {result.stderr.decode(errors='replace')}"

    def isolation(self, limits: Limits) -> Isolation:
        """What a run with these limits gets on this host."""
        jailed = self.namespaces
        return Isolation(
            network=jailed and not limits.network,
            filesystem=jailed,
            unprivileged_uid=self.root,
            memory=True,  # the memory cgroup, else RLIMIT_DATA per process
            processes="pids" in self.controllers or self.root,
            private_tmp=jailed,
        )

    def run(self, request: RunRequest) -> RunResult:
        if request.limits.gpu is GpuPolicy.REQUIRED and not process_plan.gpu_nodes(request.limits):
            raise SandboxUnavailable(
                "no NVIDIA GPU device (/dev/nvidia*) on this host for a job that requires one"
            )
        isolation = self.isolation(request.limits)
        missing = sorted(set(isolation.missing()) & self.settings.require_isolation)
        if missing:
            raise IsolationRefused(
                f"the process sandbox cannot give {', '.join(missing)} here "
                f"({self.degraded or 'needs root and cgroups'}); run the grader as root, use the "
                "docker backend, or drop them from GRADER_REQUIRE_ISOLATION"
            )
        process_plan.check_request(request.argv, request.env, request.files)
        try:
            result = self._warm_or_cold(request, isolation)
        except SandboxFailure:
            if not self._live.closed:
                raise
        if self._live.closed:  # killed by `close()`: what it saw says nothing of the program
            raise SandboxFailure("the process sandbox was closed while the program ran")
        return result

    def _warm_or_cold(self, request: RunRequest, isolation: Isolation) -> RunResult:
        runner = self.warm
        warm = runner.run(request, self._live) if runner and runner.eligible(request) else None
        if warm is None:
            return self._run(request, isolation)
        finished, rlimits = warm
        return self._result(request.limits, finished, isolation, rlimits)

    def close(self) -> None:
        """Kill every run in flight and refuse new ones; release the warm pool (its last user
        kills every zygote). Safe to call twice, and from another thread than the runs'."""
        self._live.close()
        warm, self.warm = self.warm, None
        if warm is not None:
            release_runner(warm)

    def _run(self, request: RunRequest, isolation: Isolation) -> RunResult:
        staging = process_staging.make("run")
        try:
            with RunCgroups(self.controllers) as cgroups:
                cgroups.limit(request.limits.memory_bytes, request.limits.processes)
                job = Job(request, staging, cgroups)
                with self._live.track(job):
                    channel = os.pipe()
                    spec = self._spec(request, staging, cgroups, channel[1])
                    finished = job.run(spec, channel)
        except OSError as exc:
            raise SandboxFailure(f"process sandbox I/O error: {exc}") from exc
        finally:
            process_staging.remove(staging)
        return self._result(request.limits, finished, isolation, spec.rlimits)

    def _spec(
        self, request: RunRequest, staging: Path, cgroups: RunCgroups, channel_fd: int
    ) -> LaunchSpec:
        """Stage the files and plan the run; the launcher gets the plan as JSON."""
        limits = request.limits
        uid, second = process_plan.draw_uids() if self.root else (None, None)
        home, torch_home, mounts = self._stage(request, staging, uid)
        runtime = self.runtime.jailed() if self.namespaces else self.runtime
        env = process_plan.environment(request.env, runtime, home, torch_home)
        env[CHANNEL_ENV] = f"fd:{channel_fd}"
        if limits.gpu_devices and process_plan.gpu_nodes(limits):
            env["CUDA_VISIBLE_DEVICES"] = ",".join(limits.gpu_devices)
        argv = list(request.argv)
        if argv and argv[0] == "python":
            argv[0] = runtime.python
        own_uid, data = uid is not None, "memory" not in cgroups.dirs
        return LaunchSpec(
            mode="namespaces" if self.namespaces else "direct",
            share_net=limits.network,
            argv=argv,
            env=env,
            cwd=home,
            uid=uid,
            gid=uid,
            second_uid=second,
            rlimits=process_plan.rlimits(limits, own_uid=own_uid, data=data),
            cgroup_procs=cgroups.procs_files,
            root=str(staging / "root"),
            mounts=mounts,
            keep_fds=[channel_fd],
            backstop_s=limits.wall_s + 30,
            seccomp=self.seccomp.hex() if self.seccomp else None,
        )

    def _stage(
        self, request: RunRequest, staging: Path, uid: int | None
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """Write the files; return the program's home, its TORCH_HOME and the jail's mounts."""
        files = staging / "files"
        files.mkdir(mode=0o700)
        process_plan.stage_files(files, request.files)
        if not self.namespaces:
            return (*self._direct_home(staging, files, uid), [])
        (staging / "root").mkdir()
        weights = self.settings.weights_dir
        mounts = process_plan.mounts(request.limits, self.runtime, weights, files, uid or 0)
        return HOME, SANDBOX_TORCH_HOME, mounts

    def _direct_home(self, staging: Path, files: Path, uid: int | None) -> tuple[str, str]:
        """Without a jail the program works in the staged directory and sees the real cache."""
        torch_home = staging / "torch" / "hub"
        torch_home.mkdir(parents=True)
        (torch_home / "checkpoints").symlink_to(self.settings.weights_dir.resolve())
        if uid is not None:
            staging.chmod(0o711)
            os.chown(files, uid, uid)
            files.chmod(int(process_plan.HOME_MODE, 8))
        return str(files), str(torch_home.parent)

    def _result(
        self,
        limits: Limits,
        done: Finished,
        isolation: Isolation,
        rlimits: Mapping[str, list[int]],
    ) -> RunResult:
        stop, usage = done.outcome.stop, done.usage
        cpu_s = usage.cpu_s if usage.cpu_s is not None else done.rusage_cpu_s
        return RunResult(
            exit_code=done.exit_code,
            signal=done.signal,
            stdout=bytes(done.captures["stdout"].data),
            stderr=bytes(done.captures["stderr"].data),
            channel=bytes(done.captures["channel"].data),
            timed_out=stop in ("wall", "cpu") or _cpu_killed(limits, done, cpu_s),
            memory_exceeded=_memory_exceeded(done, "RLIMIT_DATA" in rlimits),
            output_exceeded=stop in ("stdout", "stderr"),
            channel_exceeded=done.captures["channel"].exceeded,
            wall_s=done.outcome.wall_s,
            cpu_s=cpu_s,
            peak_memory_bytes=usage.peak_memory_bytes or done.rusage_peak_bytes,
            isolation=replace(isolation),
            backend=self.name,
        )


def _cpu_killed(limits: Limits, done: Finished, cpu_s: float) -> bool:
    """RLIMIT_CPU ends a process with SIGXCPU, then SIGKILL at the hard limit."""
    if done.signal == signal.SIGXCPU:
        return True
    return done.signal == signal.SIGKILL and cpu_s >= limits.cpu_s


def _memory_exceeded(done: Finished, rlimit_only: bool) -> bool:
    """The cgroup's OOM killer fired; under RLIMIT_DATA, the program died of a MemoryError."""
    if done.usage.oom_killed:
        return True
    if done.signal == signal.SIGKILL and done.outcome.stop is None and done.usage.memory_failcnt:
        return True
    tail = bytes(done.captures["stderr"].data[-4096:])
    return rlimit_only and done.exit_code not in (0, None) and b"MemoryError" in tail
