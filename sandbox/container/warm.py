"""The warm path of the docker sandbox: pre-started containers with torch imported, one job each.

A `WarmContainer` is created with the same hardening as a cold run (`spec.py`), started,
and attached; its supervisor (`supervisor.py` in warm mode) imports torch and torchvision,
forks the program's child, says READY and waits for one job. A job is the cold run's tar on the
same attach socket, read back with the same caps and deadlines (`container_io.Exchange`); then
the container is killed and removed on a background thread, off the job's path. A container
serves exactly one submission: nothing of one student (files, /tmp, processes, interpreter
state) can reach the next, which gets a container of its own.

Containers are pooled (`WarmPool`) per limits profile, since memory, pids and tmpfs sizes are
fixed when a container is created: a request whose profile has no ready container waits for
one that is already starting, or runs cold (and the pool starts filling). What runs cold: GPU
runs (the CUDA image stays cold, so no warm process ever exists where CUDA could be touched
before a job), network runs, programs other than `python [-I] -c|SCRIPT`, stdin over
`WARM_STDIN_BYTES`. The container's memory limit is the run's plus `WARM_MEMORY_BYTES`, what
the supervisor's imports hold before the job, so a program gets its limit for its own use.

Each container carries its owner's id in a label; a pool that starts removes labelled
containers whose owner is gone (a grader that crashed) or that are older than any live pool
keeps one.
"""

from __future__ import annotations

import atexit
import contextlib
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
from sandbox.container.attach import Exchange, Wire
from sandbox.container.errors import docker_client, docker_errors
from sandbox.container.supervisor import READY
from sandbox.errors import SandboxFailure
from sandbox.settings import SandboxSettings
from sandbox.warm import program as warm_program
from sandbox.warm.pool import WarmPool

#: The label naming the grader process that owns a warm container (`owner_id`).
OWNER_LABEL = "org.grader.owner"
#: Seconds a warm container may take to import the warm modules and say READY.
START_S = 180.0
#: Seconds a warm supervisor may take from the job's tar to the "started" marker.
JOB_START_S = 30.0
#: Distinct limits profiles with a pool at once; the least recently used one is closed.
MAX_PROFILES = 4
_EXIT_WAIT_S = 30
_FRAME = struct.Struct(">BxxxL")
_SOURCE = Path(warm_program.__file__).read_text()

Profile = tuple[int, int, int, int]


def profile(limits: Limits) -> Profile:
    """What a container fixes at creation (CPU time and file size are set per job)."""
    return (limits.memory_bytes, limits.processes, limits.workdir_bytes, limits.channel_bytes)


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


class WarmContainer:
    """One pre-started container whose supervisor waits for exactly one job."""

    def __init__(
        self, client: Any, settings: SandboxSettings, limits: Limits, owner: str, remover: Remover
    ) -> None:
        self.client, self.remover = client, remover
        self.cid: str | None = None
        self.used = False
        weights = settings.weights_dir if settings.weights_dir.is_dir() else None
        warm_args = ("warm", ",".join(settings.warm_imports), _SOURCE)
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
            while stdout != READY:
                stream, size = _FRAME.unpack(_recv_exact(self.sock, _FRAME.size))
                data = _recv_exact(self.sock, size)
                if stream == 2:
                    stderr = (stderr + data)[-2000:]
                else:
                    stdout += data
                if not READY.startswith(stdout):
                    raise OSError("unexpected output before READY")
        except OSError as exc:
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            message = f"a warm container did not start ({exc}): {' | '.join(tail)}"
            raise SandboxFailure(message) from exc
        finally:
            self.sock.settimeout(None)

    def alive(self) -> bool:
        """Unused, and its supervisor still waiting (its socket has nothing to say yet)."""
        if self.used or self.cid is None or self.sock.fileno() == -1:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable

    def run(self, request: RunRequest, token: str, wall_s: float) -> tuple[Wire, dict[str, Any]]:
        """The job on the open socket; the container's final state when its result is missing."""
        self.used = True
        limits = request.limits
        warm = {
            "program": warm_program.plan(request.argv),
            "env": spec.environment(request.env),
            "rlimits": spec.child_rlimits(limits),
        }
        data = spec.payload(request, token, warm)
        args = (token, limits.output_bytes, limits.channel_bytes)
        try:
            wire = Exchange(self.sock, data, *args, wall_s=wall_s, start_s=JOB_START_S).run()
        finally:
            self._close_socket()
        if wire.stop is not None:
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
        self.used = True
        if getattr(self, "sock", None) is not None:
            self._close_socket()
        cid, self.cid = self.cid, None
        if cid is not None:
            self.remover.remove(cid)


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
        self.client = docker_client()
        self.owner = owner_id()
        self.remover = Remover(self.client)
        self.pools: dict[Profile, WarmPool[WarmContainer]] = {}
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
            pool = self.pools.pop(key, None)
            if pool is None:
                pool = WarmPool(
                    lambda: WarmContainer(
                        self.client, self.settings, limits, self.owner, self.remover
                    ),
                    self.settings.pool_size,
                    self.settings.pool_idle_s,
                    "docker",
                )
            self.pools[key] = pool  # most recently used last
            evicted = list(self.pools)[:-MAX_PROFILES]
            old = [self.pools.pop(k) for k in evicted]
        for gone in old:
            gone.close()
        return pool

    def take(self, limits: Limits) -> tuple[WarmPool[WarmContainer], WarmContainer | None]:
        """A ready container; or one already starting, when no other run waits for it; or None
        (the run goes cold, and the pool starts filling)."""
        pool = self.pool(limits)
        found = pool.try_take()
        if found is not None:
            return pool, found
        key = profile(limits)
        with self._lock:
            if pool.counts()["starting"] <= self._waiting.get(key, 0):
                return pool, None
            self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            return pool, pool.take(START_S)
        except SandboxFailure:
            return pool, None  # it failed to start: this run goes cold
        finally:
            with self._lock:
                self._waiting[key] -= 1

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
    """One set of pools per grader process and settings, however many sandboxes share it."""
    with _shared_lock:
        warm, users = _shared.get(settings) or (DockerWarm(settings), 0)
        _shared[settings] = (warm, users + 1)
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
                    return
                del _shared[key]
    warm.close()
