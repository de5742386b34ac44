"""The warm path of the process sandbox: zygotes with torch imported, one forked child per job.

A zygote (`zygote.py`, in the same jail a cold run gets) is started ahead of demand and
kept in a `WarmPool`. A job sends it file descriptors only: the pipes (stdin, stdout, stderr,
the channel, a status pipe), a payload pipe the job's child reads its argv, env and files from,
and the job's cgroup.procs files, opened here. The child joins the cgroups, drops to a uid of its
own and runs the program; the host pumps the pipes with the same caps and deadlines as a cold
run and kills the job through its cgroups. Results are assembled exactly as for a cold run.

What runs cold instead (see `WarmRunner.eligible`): a program other than `python -c` or
`python SCRIPT`, a run with network or with GPU device nodes (the zygote's /dev has none, and a
zygote must never touch CUDA), and hosts without the jail or the memory and pids cgroups (the
host kills a warm job's leftovers through them, where a cold run's pid namespace ends them).

Closing the runner kills every zygote it started, busy or still starting (`Live`), then gives
their owners (the pool's filler, the threads running jobs) a moment to reap them and remove their
folders, and removes what is left itself: nothing of a zygote outlives the process that made it.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.base import CHANNEL_ENV, Limits, RunRequest
from sandbox.errors import SandboxFailure
from sandbox.process import jail
from sandbox.process import staging as process_staging
from sandbox.process.cgroups import RunCgroups
from sandbox.process.jail import HOME, Rlimits, Runtime
from sandbox.process.job import LAUNCHER, Finished, _last_report, kill_run
from sandbox.process.live import Killable, Live
from sandbox.process.pump import Capture, Pump
from sandbox.process.spec import LaunchSpec, WarmJobSpec
from sandbox.settings import SANDBOX_TORCH_HOME, SandboxSettings
from sandbox.warm import importer as warm_importer
from sandbox.warm import program as warm_program
from sandbox.warm.pool import WarmPool
from sandbox.warm.preload import Preload

#: The files bound read-only at /opt/grader in a zygote's jail, by the names the zygote imports.
CODE = {
    "process_launcher.py": Path(__file__).with_name("launcher.py"),
    "process_zygote.py": Path(__file__).with_name("zygote.py"),
    "warm_program.py": Path(warm_program.__file__),
    "warm_importer.py": Path(warm_importer.__file__),
}
#: Where a zygote finds its copy of the preloaded modules (`zygote.PRELOAD_DIR`).
PRELOAD_DIR = "/opt/grader/preload"
BOOT = (
    "import sys; sys.path.insert(0, '/opt/grader'); import process_zygote; "
    "sys.exit(process_zygote.main(sys.argv))"
)
#: Seconds a zygote may take to import the warm modules.
START_S = 180.0
_STATUS_CAP = 64 * 1024
#: A zygote's own lifetime cap (the launcher's backstop alarm); the pool retires idle ones.
_LIFETIME_S = 7 * 24 * 3600
log = logging.getLogger(__name__)

#: Seconds a closing runner waits for the owners of killed zygotes to reap them.
_REAP_WAIT_S = 5.0


class Zygote:
    """One zygote process in its jail, and the control socket to it."""

    def __init__(
        self,
        settings: SandboxSettings,
        runtime: Runtime,
        controllers: frozenset[str],
        live: Live[Zygote],
        preload: Preload | None = None,
    ) -> None:
        self.controllers = controllers
        self.live = live
        self.preload = preload
        #: The digest of the modules it imported before any job (None: none, or they failed).
        self.preloaded: str | None = None
        self.cgroups: RunCgroups | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._killed = False
        self.staging = process_staging.make("zygote")
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log = self.staging / "zygote.log"
        try:
            live.add(self)
            with self._lock:  # `kill()` either sees the process or stops it from starting
                if self._killed:
                    raise SandboxFailure("the warm pool closed while a zygote was starting")
                self.proc = self._launch(settings, runtime, theirs.fileno())
        except OSError as exc:
            self.close()
            raise SandboxFailure(f"cannot start a warm zygote: {exc}") from exc
        except BaseException:
            self.close()
            raise
        finally:
            theirs.close()
        try:
            self._wait_ready()
            self.prepare()
        except BaseException:
            self.close()
            raise

    def prepare(self) -> None:
        """Make the next job's cgroups; the zygote's waiting child joins them right away."""
        self.cgroups = RunCgroups(self.controllers)
        procs = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in self.cgroups.procs_files]
        try:
            self._send(b"prep", procs)
        finally:
            for fd in procs:
                os.close(fd)

    def _launch(
        self, settings: SandboxSettings, runtime: Runtime, fd: int
    ) -> subprocess.Popen[bytes]:
        (self.staging / "files").mkdir()
        (self.staging / "root").mkdir()
        if self.preload is not None:
            self.preload.write(self.staging / "preload")
        spec = self._spec(settings, runtime, fd)
        with open(self.log, "wb") as log:
            (self.staging / "spec.json").write_text(spec.to_json(status_fd=log.fileno()))
            return subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(LAUNCHER), str(self.staging / "spec.json")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(fd, log.fileno()),
                start_new_session=True,
                env={},
                cwd=self.staging,
            )

    def _spec(self, settings: SandboxSettings, runtime: Runtime, fd: int) -> LaunchSpec:
        mounts = jail.mounts(Limits(), runtime, settings.weights_dir, self.staging / "files", 0)
        mounts += [{"op": "dir", "dst": "/run/grader"}]
        mounts += [
            {"op": "bind", "src": str(src), "dst": f"/opt/grader/{name}"}
            for name, src in CODE.items()
        ]
        if self.preload is not None:
            mounts += [{"op": "bind", "src": str(self.staging / "preload"), "dst": PRELOAD_DIR}]
        jailed = runtime.jailed()
        return LaunchSpec(
            mode="namespaces",
            share_net=False,
            argv=[jailed.python, "-I", "-c", BOOT, str(fd), ",".join(settings.warm_imports)],
            env=jail.environment({}, jailed, HOME, SANDBOX_TORCH_HOME),
            cwd=HOME,
            uid=None,  # the zygote stays root in its jail: each job's child drops to its own uid
            gid=None,
            second_uid=None,
            rlimits={},
            cgroup_procs=[],
            root=str(self.staging / "root"),
            mounts=mounts,
            keep_fds=[fd],
            backstop_s=_LIFETIME_S,
            seccomp=None,
        )

    def _wait_ready(self) -> None:
        self.control.settimeout(START_S)
        try:
            said = self.control.recv(128)
        except OSError:
            said = b""
        self.control.settimeout(None)
        word, _, digest = said.partition(b" ")  # "ready DIGEST-OF-ITS-PRELOADED-MODULES"
        if word != b"ready":
            try:
                tail = self.log.read_bytes()[-1500:].decode(errors="replace").strip()
            except OSError:  # removed by a closing runner
                tail = ""
            self.close()
            raise SandboxFailure(f"the warm zygote did not start: {tail or 'no output'}")
        self.preloaded = digest.decode(errors="replace") or None

    def alive(self) -> bool:
        return self.control.fileno() != -1 and self.proc is not None and self.proc.poll() is None

    def send(self, fds: list[int]) -> None:
        self._send(b"job", fds)

    def _send(self, what: bytes, fds: list[int]) -> None:
        try:
            socket.send_fds(self.control, [what], fds)
        except OSError as exc:
            raise SandboxFailure(f"the warm zygote is gone: {exc}") from exc

    def kill(self) -> None:
        """Kill it now, from any thread (a closing runner): init, so that the kernel ends
        everything in the jail's pid namespace, then the launcher. The owner still calls
        `close`, which reaps it."""
        with self._lock:
            self._killed = True
            proc = self.proc
            if proc is not None and proc.returncode is None:  # not reaped: the id is still ours
                kill_run(proc.pid)

    def close(self) -> None:
        """Close the control socket (the zygote exits), kill its session, remove its staging."""
        self.control.close()
        self.kill()
        if self.proc is not None:
            self.proc.wait()
        if self.cgroups is not None:
            self.cgroups.__exit__(None, None, None)
            self.cgroups = None
        process_staging.remove(self.staging)
        self.live.discard(self)


_shared: dict[tuple[object, ...], tuple[WarmRunner, int]] = {}
_shared_lock = threading.Lock()


def shared_runner(
    settings: SandboxSettings, runtime: Runtime, controllers: frozenset[str], seccomp: bytes | None
) -> WarmRunner:
    """One pool per grader process and settings, however many sandboxes share it (a service
    opens one per worker thread): GRADER_POOL_SIZE zygotes in all, not per worker, or by default
    one per sandbox sharing it (`SandboxSettings.pool_for`)."""
    key = (settings, runtime, controllers, seccomp)
    with _shared_lock:
        runner, users = _shared.get(key) or (WarmRunner(settings, runtime, controllers, seccomp), 0)
        _shared[key] = (runner, users + 1)
        runner.pool.resize(settings.pool_for(users + 1))
        if users == 0:
            atexit.register(runner.close)
    return runner


def release_runner(runner: WarmRunner) -> None:
    """One user fewer; the last one shuts the pool down."""
    with _shared_lock:
        for key, (held, users) in list(_shared.items()):
            if held is runner:
                if users > 1:
                    _shared[key] = (held, users - 1)
                    held.pool.resize(held.settings.pool_for(users - 1))
                    return
                del _shared[key]
    runner.close()


class WarmRunner:
    """Runs eligible requests in forked children of pooled zygotes."""

    def __init__(
        self,
        settings: SandboxSettings,
        runtime: Runtime,
        controllers: frozenset[str],
        seccomp: bytes | None,
    ) -> None:
        self.settings, self.runtime, self.controllers = settings, runtime, controllers
        self.seccomp = seccomp.hex() if seccomp else None
        self.preload = Preload.read(settings.warm_files)
        self.zygotes: Live[Zygote] = Live("warm pool")
        self.pool: WarmPool[Zygote] = WarmPool(
            lambda: Zygote(settings, runtime, controllers, self.zygotes, self.preload),
            settings.pool_for(1),
            settings.pool_idle_s,
            "process",
        )

    @staticmethod
    def usable(controllers: frozenset[str], namespaces: bool, root: bool) -> bool:
        """Warm runs need the jail and the cgroups the host kills a job's leftovers through."""
        return namespaces and root and {"memory", "pids"} <= controllers

    def eligible(self, request: RunRequest) -> bool:
        limits = request.limits
        if limits.network or jail.gpu_nodes(limits):
            return False  # the zygote's jail has neither; such runs start cold
        return warm_program.plan(request.argv) is not None

    def run(self, request: RunRequest, live: Live[Killable]) -> tuple[Finished, Rlimits] | None:
        """The job's `Finished` and the rlimits it ran under; None when no zygote came ready
        within about the time a cold run takes to start (`WarmPool.take_soon`): the run then
        goes cold; raises `SandboxFailure`. The job is held in `live` (its sandbox's) while it
        runs."""
        zygote = self.pool.take_soon()
        if zygote is None:
            return None
        reclaiming = False
        try:
            job = self._job(request, zygote)
            cgroups, zygote.cgroups = zygote.cgroups, None
            if cgroups is None:
                raise SandboxFailure("a warm zygote was handed out without its job's cgroups")
            with _removed_on_error(cgroups):
                cgroups.limit(request.limits.memory_bytes, request.limits.processes)
                warm_job = WarmJob(request, job, zygote, cgroups)
                with live.track(warm_job):
                    finished = warm_job.run()
            self._reclaim_later(zygote, cgroups)
            reclaiming = True
        except OSError as exc:
            raise SandboxFailure(f"process sandbox I/O error (warm): {exc}") from exc
        finally:
            if not reclaiming:
                self.pool.give_back(zygote, reuse=False)
        return finished, job.rlimits

    def _reclaim_later(self, zygote: Zygote, cgroups: RunCgroups) -> None:
        """Off the job's path: wait for its processes to be gone (the child's address space
        torn down), remove its cgroups, and give the zygote back, ready for the next job."""
        name = f"{self.pool.name}-reclaim"
        threading.Thread(target=self._reclaim, args=(zygote, cgroups), name=name).start()

    def _reclaim(self, zygote: Zygote, cgroups: RunCgroups) -> None:
        reuse = False
        try:
            with cgroups:
                cgroups.kill_all()
                # The child joined the job's cgroups before its job arrived: when they are
                # empty, it is dead and its zygote free; otherwise the zygote goes too.
                reuse = not cgroups.pids() and zygote.alive()
            if reuse:
                zygote.prepare()
        except (OSError, SandboxFailure) as exc:
            log.warning("a warm zygote could not be made ready again: %s", exc)
            reuse = False
        finally:
            self.pool.give_back(zygote, reuse)

    def _job(self, request: RunRequest, zygote: Zygote) -> WarmJobSpec:
        limits = request.limits
        files, preloaded = self._files(request, zygote)
        program = warm_program.plan(request.argv)
        if program is None:  # only what `eligible` accepts comes here
            raise SandboxFailure("a warm job needs `python -c CODE` or `python SCRIPT`")
        uid, second = jail.draw_uids()
        env = jail.environment(request.env, self.runtime.jailed(), HOME, SANDBOX_TORCH_HOME)
        env[CHANNEL_ENV] = "fd:3"
        names = jail.check_files(files)
        return WarmJobSpec(
            program=program,
            env=env,
            cwd=HOME,
            uid=uid,
            second_uid=second,
            rlimits=jail.rlimits(limits, own_uid=True, data=False),
            seccomp=self.seccomp,
            files={
                str(name): base64.b64encode(data).decode()
                for name, data in zip(names, files.values(), strict=True)
            },
            preloaded=preloaded,
            mounts=jail.job_mounts(limits, uid),
            etc=jail.etc_files(uid),
        )

    def _files(self, request: RunRequest, zygote: Zygote) -> tuple[dict[str, bytes], bool]:
        """The files to send, and whether the job runs with the zygote's preloaded modules:
        when it carries them as the zygote imported them, they stay out of its payload."""
        preload = self.preload
        if preload is not None and zygote.preloaded == preload.digest:
            rest = preload.strip(request)
            if rest is not None:
                return rest, True
        return dict(request.files), False

    def close(self) -> None:
        """Close the pool and kill every zygote, busy or starting; safe to call twice."""
        self.pool.close()
        self.zygotes.close()
        for zygote in self.zygotes.wait_empty(_REAP_WAIT_S):
            process_staging.remove(zygote.staging)  # its owner is stuck: reaped at exit


@contextlib.contextmanager
def _removed_on_error(cgroups: RunCgroups) -> Iterator[None]:
    """A job that failed takes its cgroups with it (a finished one leaves them to `_reclaim`)."""
    try:
        yield
    except BaseException:
        cgroups.__exit__(None, None, None)
        raise


class WarmJob:
    """One job in a zygote's child: send the descriptors and payload, pump, kill, collect."""

    def __init__(
        self, request: RunRequest, job: WarmJobSpec, zygote: Zygote, cgroups: RunCgroups
    ) -> None:
        self.request, self.job, self.zygote, self.cgroups = request, job, zygote, cgroups

    def kill(self) -> None:
        """End the job now, from any thread (its sandbox closing): its cgroups."""
        self.cgroups.kill_all()

    def run(self) -> Finished:
        limits = self.request.limits
        cgroups = self.cgroups
        deadline = time.monotonic() + limits.wall_s
        names = ("stdin", "stdout", "stderr", "channel", "status", "ended")
        pipes = {name: os.pipe() for name in names}
        payload_r, payload_w = os.pipe()
        theirs = [pipes["status"][1], payload_r, pipes["stdin"][0]]
        theirs += [pipes[name][1] for name in ("stdout", "stderr", "channel", "ended")]
        try:
            self.zygote.send(theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        self._send_payload(payload_w)
        captures = {
            pipes["stdout"][0]: Capture("stdout", limits.output_bytes),
            pipes["stderr"][0]: Capture("stderr", limits.output_bytes),
            pipes["channel"][0]: Capture("channel", limits.channel_bytes),
            pipes["status"][0]: Capture("status", _STATUS_CAP),
            pipes["ended"][0]: Capture("ended", _STATUS_CAP),
        }
        status = captures[pipes["status"][0]]
        ended = captures[pipes["ended"][0]]
        return self._follow(cgroups, pipes["stdin"][1], captures, Statuses(status, ended), deadline)

    def _send_payload(self, fd: int) -> None:
        try:
            with open(fd, "wb") as out:
                out.write(self.job.to_json().encode())
        except BrokenPipeError:
            pass  # the child died before reading it; its status says why

    def _follow(
        self,
        cgroups: RunCgroups,
        stdin_w: int,
        captures: dict[int, Capture],
        statuses: Statuses,
        deadline: float,
    ) -> Finished:
        limits = self.request.limits
        ended = False

        def exited() -> bool:
            return statuses.said() is not None or not self.zygote.alive()

        def check() -> str | None:
            nonlocal ended
            if not ended and exited():
                ended = True
                cgroups.signal_all()  # the program ended: whatever it left behind goes now
            return "cpu" if cgroups.over_cpu(limits.cpu_s) else None

        pump = Pump(captures, stdin_w, self.request.stdin, deadline, exited)
        pump.check = check
        outcome = pump.run()
        if statuses.said() is None:
            cgroups.kill_all()  # stopped by the host: the job dies before its result is made
        else:
            cgroups.signal_all()  # leftovers die; waiting for them is `_reclaim`'s, off the path
        for line in bytes(statuses.status.data).splitlines():  # the setup error comes first
            if line.startswith(b'{"error"'):
                raise SandboxFailure(f"process sandbox setup failed: {json.loads(line)['error']}")
        report = statuses.said() or _last_report(statuses.status)
        code, sig = _status(report, outcome.stop)
        return Finished(
            outcome=outcome,
            captures={capture.name: capture for capture in captures.values()},
            exit_code=code,
            signal=sig,
            rusage_cpu_s=float(report.get("cpu_s", 0.0)),
            rusage_peak_bytes=int(report.get("peak_bytes", 0)),
            usage=cgroups.usage(),
        )


@dataclass
class Statuses:
    """How a job's end is told: the zygote's report after the child was reaped (`status`), or,
    sooner, the program's own word that it ended and its output is complete (`ended`: its exit
    code only, read strictly; anything else there is ignored and the zygote's report awaited)."""

    status: Capture
    ended: Capture

    def said(self) -> dict[str, Any] | None:
        """The end as reported, once a whole line is in; None before. The program's word comes
        first: once it is said, the host kills what is left, which may reach the program itself
        in its last instructions, and the zygote would then report that kill."""
        line = bytes(self.ended.data).split(b"\n", 1)
        if len(line) == 2:
            with contextlib.suppress(ValueError):
                said = json.loads(line[0])
                if isinstance(said, dict) and type(said.get("exit_code")) is int:
                    cpu = said.get("cpu_s")
                    return {"exit_code": said["exit_code"] & 0xFF, "cpu_s": _seconds(cpu)}
        if b"\n" in self.status.data:
            return _last_report(self.status)
        return None


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value) if 0 <= value < 1e9 else 0.0


def _status(report: dict[str, Any], stop: str | None) -> tuple[int | None, int | None]:
    if "exit_code" in report:
        return int(report["exit_code"]), None
    if "signal" in report:
        return None, int(report["signal"])
    if stop is not None:
        return None, int(signal.SIGKILL)  # the host killed the run before the zygote reported
    raise SandboxFailure("the warm zygote ended without a status for its job")
