"""The warm path of the docker sandbox: long-lived containers with torch imported, many jobs each.

A `WarmContainer` is created with the same hardening as a cold run (`spec.py`), started and
attached; its zygote (`zygote.py`) imports torch and torchvision, says READY and serves jobs one
at a time: each is the cold run's tar, length-prefixed, on the same attach socket, read back with
the same caps and deadlines (`attach.Exchange`, `keep_open`). Each job runs in a fresh child of
the zygote under uids no earlier job of the container had, in a workdir made afresh; after it,
a sweeper under those uids kills whatever they left running and removes their files (workdir,
/tmp, /dev/shm) and IPC objects, and checks that nothing is left. Nothing of one student (files,
/tmp, processes, interpreter state, memory) reaches the next.

The container is recycled (killed and removed on a background thread, off the job's path; its
successor starts while it serves its last jobs: `WarmPool`, `jobs_left`) after
`GRADER_DOCKER_JOBS_PER_CONTAINER` jobs (fewer for the first of a pool's fill, so its containers
are not all replaced at once: `Budgets`) or on any anomaly: a sweep
that left something, an OOM kill (the container's memory limit is one job's plus the imports',
so a job that fills it is the one killed), anonymous memory above `WARM_MEMORY_BYTES` after the
sweep, a time or output limit (the host kills the container, as a cold run's), a result that
did not come whole, a zygote or server that ended.

Containers are pooled (`WarmPool`) per limits profile, since memory, pids and tmpfs sizes are
fixed when a container is created (the channel's room has a floor, `spec.WARM_CHANNEL_BYTES`, so
the default limits that `prestart` fills and the grader's probe runs share one pool): a request
whose profile has no ready container waits for one that is already starting, or runs cold (and
the pool starts filling). What runs cold: GPU runs (the CUDA image stays cold, so no warm
process ever exists where CUDA could be touched before a job), network runs, programs other
than `python [-I] -c|SCRIPT`, stdin over `WARM_STDIN_BYTES`. The container's memory limit is
the run's plus `WARM_MEMORY_BYTES`, what the zygote's imports hold before any job, so a program
gets its limit for its own use.

Each container carries its owner's id in a label; a pool that starts removes labelled
containers whose owner is gone (a grader that crashed) or that are older than any live pool
keeps one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.base import Limits, RunRequest
from sandbox.container import spec
from sandbox.container.attach import Exchange, Wire, outcome
from sandbox.container.errors import docker_client, docker_errors
from sandbox.container.supervisor import READY, READY_PRELOADED
from sandbox.errors import SandboxFailure
from sandbox.settings import SandboxSettings
from sandbox.warm import program as warm_program
from sandbox.warm.pool import WarmPool
from sandbox.warm.preload import Preload

#: The label naming the grader process that owns a warm container (`owner_id`).
OWNER_LABEL = "org.grader.owner"
#: Seconds a warm container may take to import the warm modules and say READY.
START_S = 180.0
#: Seconds a warm container's server may take from the job's tar to the "started" marker.
JOB_START_S = 30.0
#: Distinct limits profiles with a pool at once; the least recently used one is closed.
MAX_PROFILES = 4
_EXIT_WAIT_S = 30
_FRAME = struct.Struct(">BxxxL")
_LENGTH = struct.Struct(">Q")
_SOURCE = Path(warm_program.__file__).read_text()

Profile = tuple[int, int, int, int]

log = logging.getLogger(__name__)


def profile(limits: Limits) -> Profile:
    """What a container fixes at creation (CPU time and file size are set per job; the channel's
    room has a floor, `spec.warm_channel_bytes`, so the default limits and the grader's share)."""
    channel = spec.warm_channel_bytes(limits)
    return (limits.memory_bytes, limits.processes, limits.workdir_bytes, channel)


def owner_id() -> str:
    """This process, unambiguously on this host: hostname, pid and the pid's start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_alive(owner: str) -> bool:
    """Whether the process named by `owner` still runs (unknown hosts count as alive)."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True
    return pid.isdigit() and bool(started) and _start_time(int(pid)) == started


def warm_containers(client: Any) -> list[dict[str, Any]]:
    """Every warm container on the engine, of any grader process, running or not."""
    found: list[dict[str, Any]] = client.api.containers(
        all=True, filters={"label": f"{spec.LABEL}=warm"}
    )
    return found


def owner_of(found: dict[str, Any]) -> str:
    """The `owner_id` a listed warm container was labelled with ("" when it has none)."""
    return str((found.get("Labels") or {}).get(OWNER_LABEL, ""))


def remove_stale(client: Any, max_age_s: float) -> list[str]:
    """Remove warm containers whose owner is gone or that no live pool keeps this long."""
    gone = []
    now = time.time()
    for found in warm_containers(client):
        if owner_alive(owner_of(found)) and now - found.get("Created", now) < max_age_s:
            continue
        with contextlib.suppress(Exception):  # removed meanwhile by its owner
            client.api.remove_container(found["Id"], force=True, v=True)
            gone.append(str(found["Id"]))
    return gone


class Remover:
    """Kills and removes used containers on background threads; `join` waits for them all."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def remove(self, cid: str) -> None:
        thread = threading.Thread(target=self._remove, args=(cid,), name="docker-warm-remove")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _remove(self, cid: str) -> None:
        with contextlib.suppress(Exception):  # already gone: nothing to remove
            self.client.api.remove_container(cid, force=True, v=True)

    def join(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join()


class Budgets:
    """The job budgets of one pool's containers. Started together with equal budgets, they
    would also be replaced together, and a batch would find none ready for a whole start (its
    runs waiting, or going cold); so a fill from empty staggers them (`jobs`, `jobs - jobs /
    size`, ...) and replacements get the full budget, which keeps the stagger."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._filled = 0  # containers started since the pool was last empty
        self._lock = threading.Lock()

    def next(self, size: int, held: int) -> int:
        """The budget of the container starting now, when the pool holds `held` others (at
        least 1: `jobs - floor(k * jobs / size)` with k < size)."""
        with self._lock:
            self._filled = 0 if held == 0 else self._filled
            k, self._filled = self._filled, self._filled + 1
        return self.jobs - k * self.jobs // size if k < size else self.jobs


class WarmContainer:
    """One long-lived container whose zygote serves jobs one at a time (`zygote.py`)."""

    def __init__(
        self,
        client: Any,
        settings: SandboxSettings,
        limits: Limits,
        owner: str,
        remover: Remover,
        jobs: int,
        preload: Preload | None = None,
    ) -> None:
        self.client, self.remover = client, remover
        self.cid: str | None = None
        self.jobs_left = jobs
        self.reusable = False  # whether the last job left it fit for the next
        self.preload = preload
        self.preloaded = False  # whether its zygote imported `preload` (it says so when ready)
        weights = settings.weights_dir if settings.weights_dir.is_dir() else None
        warm_args = spec.warm_args(_SOURCE, settings.warm_imports, self.jobs_left, preload)
        labels = {spec.LABEL: "warm", OWNER_LABEL: owner}
        with docker_errors("starting a warm sandbox container"):
            created = client.api.create_container(
                environment=spec.environment({}),
                host_config=client.api.create_host_config(**spec.warm_host_config(limits, weights)),
                **spec.container_config(settings.image, warm_args, labels),
            )
            self.cid = str(created["Id"])
            try:
                self._attach_and_start()
            except BaseException:
                self.close()
                raise
        log.debug("warm container %.12s started for %d job(s)", self.cid, jobs)

    def _attach_and_start(self) -> None:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        self.attached = self.client.api.attach_socket(self.cid, params=params)
        self.sock: socket.socket = getattr(self.attached, "_sock", self.attached)
        self.client.api.start(self.cid)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Read frames up to the READY marker (never past it: the job's output follows)."""
        self.sock.settimeout(START_S)
        stdout, stderr = b"", b""
        try:
            while stdout not in (READY, READY_PRELOADED):
                stream, size = _FRAME.unpack(_recv_exact(self.sock, _FRAME.size))
                data = _recv_exact(self.sock, size)
                if stream == 2:
                    stderr = (stderr + data)[-2000:]
                else:
                    stdout += data
                if not (READY.startswith(stdout) or READY_PRELOADED.startswith(stdout)):
                    raise OSError("unexpected output before READY")
            self.preloaded = stdout == READY_PRELOADED
        except OSError as exc:
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            message = f"a warm container did not start ({exc}): {' | '.join(tail)}"
            raise SandboxFailure(message) from exc
        finally:
            self.sock.settimeout(None)

    def alive(self) -> bool:
        """Started, jobs left, and its zygote still waiting (the socket has nothing to say)."""
        if self.jobs_left <= 0 or self.cid is None or self.sock.fileno() == -1:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        if readable:
            log.debug("warm container %.12s recycled: it spoke between jobs", self.cid)
        return not readable

    def run(self, request: RunRequest, token: str, wall_s: float) -> tuple[Wire, dict[str, Any]]:
        """The job on the open socket, and the container's final state when it had to end
        (an empty state while it lives on); sets `reusable`."""
        self.jobs_left -= 1
        self.reusable = False
        limits = request.limits
        # A job carrying the preloaded modules as read runs them, and is sent without them.
        rest = self.preload.strip(request) if self.preload and self.preloaded else None
        warm = {
            "program": warm_program.plan(request.argv),
            "env": spec.warm_environment(request.env),
            "rlimits": spec.child_rlimits(limits),
            "preloaded": rest is not None,
        }
        data = spec.payload(request, token, warm, rest)
        args = (token, limits.output_bytes, limits.channel_bytes)
        framed = _LENGTH.pack(len(data)) + data
        exchange = Exchange(self.sock, framed, *args, wall_s, JOB_START_S, keep_open=True)
        wire = exchange.run()
        if wire.complete and wire.stop is None:
            reason = unfit_for_next(wire, token, limits) or (
                "its jobs are used up" if self.jobs_left <= 0 else None
            )
            self.reusable = reason is None
            if reason is not None:
                log.debug("warm container %.12s recycled: %s", self.cid, reason)
            return wire, {}
        log.debug(
            "warm container %.12s recycled: %s",
            self.cid,
            f"{wire.stop} limit" if wire.stop else "the result did not come whole",
        )
        self._close_socket()
        with contextlib.suppress(Exception):  # it ended by itself meanwhile
            self.client.api.kill(self.cid)
        self.client.api.wait(self.cid, timeout=_EXIT_WAIT_S)
        state: dict[str, Any] = self.client.api.inspect_container(self.cid)["State"]
        return wire, state

    def _close_socket(self) -> None:
        with contextlib.suppress(OSError):
            self.attached.close()
            self.sock.close()

    def close(self) -> None:
        """Kill and remove it in the background; safe to call twice."""
        self.jobs_left = 0
        if getattr(self, "sock", None) is not None:
            self._close_socket()
        cid, self.cid = self.cid, None
        if cid is not None:
            self.remover.remove(cid)


def unfit_for_next(wire: Wire, token: str, limits: Limits) -> str | None:
    """Why the container may not take another job (None: it may): the job's leftovers are not
    gone (`clean`), an OOM kill, or it holds more memory than its imports'
    (`spec.WARM_MEMORY_BYTES`)."""
    header = outcome(wire.stdout, token, limits.output_bytes, limits.channel_bytes).header
    if header is None:
        return "no result header"
    if header.get("clean") is not True:
        return f"the sweep left something ({header.get('clean')!r})"
    if header.get("oom_kills") != 0:
        return f"OOM kills: {header.get('oom_kills')!r}"
    held = header.get("memory_bytes")
    if not isinstance(held, int) or held > spec.WARM_MEMORY_BYTES:
        return f"it holds {held!r} bytes of memory (at most {spec.WARM_MEMORY_BYTES})"
    return None


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the container ended")
        data += chunk
    return data


class DockerWarm:
    """Warm pools of containers, one per limits profile, shared by a grader process."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.preload = Preload.read(settings.warm_files)
        self.client = docker_client()
        self.owner = owner_id()
        self.remover = Remover(self.client)
        self.pools: dict[Profile, WarmPool[WarmContainer]] = {}
        self.users = 1  # sandboxes sharing these pools (`shared_warm`)
        self._waiting: dict[Profile, int] = {}
        self._lock = threading.Lock()
        with docker_errors("removing stale warm containers"):
            remove_stale(self.client, settings.pool_idle_s + 3600)

    def eligible(self, request: RunRequest) -> bool:
        limits = request.limits
        return (
            not limits.network
            and not spec.device_ids(limits)
            and len(request.stdin) <= spec.WARM_STDIN_BYTES
            and warm_program.plan(request.argv) is not None
        )

    def pool(self, limits: Limits) -> WarmPool[WarmContainer]:
        """The profile's pool (made on first use; the least recently used one goes)."""
        key = profile(limits)
        with self._lock:
            pool = self.pools.pop(key, None) or self._new_pool(limits)
            self.pools[key] = pool  # most recently used last
            evicted = list(self.pools)[:-MAX_PROFILES]
            old = [self.pools.pop(k) for k in evicted]
        for gone in old:
            gone.close()
        return pool

    def _new_pool(self, limits: Limits) -> WarmPool[WarmContainer]:
        budgets = Budgets(self.settings.docker_jobs_per_container)

        def start() -> WarmContainer:
            counts = pool.counts()
            jobs = budgets.next(pool.size, counts["ready"] + counts["busy"])
            return WarmContainer(
                self.client, self.settings, limits, self.owner, self.remover, jobs, self.preload
            )

        size, idle_s = self.settings.pool_for(self.users), self.settings.pool_idle_s
        pool = WarmPool(start, size, idle_s, "docker", jobs_left=lambda c: c.jobs_left)
        return pool

    def take(self, limits: Limits) -> tuple[WarmPool[WarmContainer], WarmContainer | None]:
        """A ready container; or one already starting, when no other run waits for it; or one
        that comes free or ready within about a start's time (`WarmPool.take_soon`: a cold run,
        which starts a container and imports torch too, would not be faster, and would take
        the CPU the starts need); or None (the run goes cold, and the pool starts filling)."""
        pool = self.pool(limits)
        found = pool.try_take()
        if found is not None:
            return pool, found
        key = profile(limits)
        with self._lock:
            claimed = pool.counts()["starting"] <= self._waiting.get(key, 0)
            if not claimed:
                self._waiting[key] = self._waiting.get(key, 0) + 1
        if claimed:
            found = pool.take_soon()
            if found is None:
                log.debug("no warm container came for %s: the run goes cold", key)
            return pool, found
        try:
            return pool, pool.take(START_S)
        except SandboxFailure as exc:
            log.debug("no warm container for %s (%s): the run goes cold", key, exc)
            return pool, None  # it failed to start: this run goes cold
        finally:
            with self._lock:
                self._waiting[key] -= 1

    def resize(self, users: int) -> None:
        """Size every pool, now and later, for `users` sandboxes sharing them (`pool_for`)."""
        with self._lock:
            self.users = max(1, users)
            pools = list(self.pools.values())
        for pool in pools:
            pool.resize(self.settings.pool_for(self.users))

    def ready(self) -> bool:
        """Whether every pool is full and nothing is starting."""
        with self._lock:
            pools = list(self.pools.values())
        return all((c := p.counts())["ready"] >= p.size and not c["starting"] for p in pools)

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"/".join(map(str, k)): p.counts() for k, p in self.pools.items()}

    def close(self) -> None:
        with self._lock:
            pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            pool.close()
        self.remover.join()
        # A container still starting is closed by its pool's filler when it is ready; at exit
        # that thread is gone, so remove whatever of ours is left now.
        with contextlib.suppress(Exception):  # no engine: the next pool's start cleans up
            owned = {"label": f"{OWNER_LABEL}={self.owner}"}
            for found in self.client.api.containers(all=True, filters=owned):
                self.client.api.remove_container(found["Id"], force=True, v=True)
        with contextlib.suppress(Exception):  # closing a client that is already gone
            self.client.close()


_shared: dict[SandboxSettings, tuple[DockerWarm, int]] = {}
_shared_lock = threading.Lock()


def shared_warm(settings: SandboxSettings) -> DockerWarm:
    """One set of pools per grader process and settings, however many sandboxes share it (a
    service opens one per worker thread): sized as the process backend's (`pool_for`)."""
    with _shared_lock:
        warm, users = _shared.get(settings) or (DockerWarm(settings), 0)
        _shared[settings] = (warm, users + 1)
        warm.resize(users + 1)
        if users == 0:
            atexit.register(warm.close)
    return warm


def release_warm(warm: DockerWarm) -> None:
    """One user fewer; the last one shuts the pools down."""
    with _shared_lock:
        for key, (held, users) in list(_shared.items()):
            if held is warm:
                if users > 1:
                    _shared[key] = (held, users - 1)
                    held.resize(users - 1)
                    return
                del _shared[key]
    warm.close()
