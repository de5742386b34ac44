"""The docker sandbox: every run in a fresh, hardened container, through the `docker` SDK.

    __init__.py    ContainerSandbox: check the engine and image, run, assemble results
    spec.py        the container's configuration and the stdin tar (pure)
    attach.py      the attach socket: send the tar, read stdout/stderr with caps
    supervisor.py  the supervisor inside the container (stdlib only)
    errors.py      Docker SDK errors -> SandboxUnavailable / SandboxFailure, in one place
    warm.py        the warm path: long-lived containers (torch imported), one job at a time
    zygote.py      a warm container's zygote, server, job child and sweeper (stdlib only)
    images.py      build the images offline (dockerfiles/), describe them for the doctor
    health.py      what `grader doctor` asks: engine, image, warm containers left on the engine

A run: create (detached, never the SDK's attached `run()`), attach, start, feed the supervisor its
tar, read capped output until the container ends or a limit is hit, kill if needed, inspect,
remove (always). GPU runs use `settings.gpu_image` and ask for exactly `Limits.gpu_devices`, one
job per GPU at a time unless `jobs_per_gpu` says otherwise. With `settings.warm`, eligible runs
take a pre-started container from a pool instead (`warm.py`); results are assembled the
same way, and GPU runs always start cold. `close()` removes (kills) the containers of runs still
in flight, from any thread, and with the last user of the warm pools every warm container this
process labelled.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import threading
from collections.abc import Iterator
from typing import Any

from sandbox.base import Isolation, Limits, RunRequest, RunResult
from sandbox.container import spec
from sandbox.container.attach import AttachOutcome, Exchange, Wire, outcome
from sandbox.container.errors import docker_client, docker_errors
from sandbox.container.warm import DockerWarm, release_warm, shared_warm
from sandbox.errors import IsolationRefused, SandboxError, SandboxFailure, SandboxUnavailable
from sandbox.settings import SandboxSettings

#: Seconds the container may take to start the program before the run is a sandbox failure.
START_S = 60.0
#: Seconds to wait for a container to end after it closed its streams or was killed.
_EXIT_WAIT_S = 30


class ContainerSandbox:
    """Runs programs in containers of the sandbox image; one container per run."""

    name = "docker"

    def __init__(self, settings: SandboxSettings, *, jobs_per_gpu: int = 1) -> None:
        """Raise `SandboxUnavailable` (what is missing, and the fix) without an engine or image."""
        self.settings = settings
        self.client = docker_client()
        self._running: set[str] = set()  # the containers of cold runs in flight
        self._closed = False
        try:
            self._require_image(settings.image, "make image")
        except SandboxUnavailable:
            self.close()
            raise
        self._checked_images = {settings.image}
        self._jobs_per_gpu = jobs_per_gpu
        self._gpu_slots: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()
        self.warm: DockerWarm | None = None
        if settings.warm:
            try:
                self.warm = shared_warm(settings)
            except SandboxUnavailable:
                self.close()
                raise

    def prestart(self) -> None:
        """Start filling the warm pool of the default limits profile (what items use) now."""
        if self.warm is not None:
            self.warm.pool(Limits()).prestart()

    def warm_ready(self) -> bool:
        """Whether every warm pool is full and idle (the benchmark waits for this)."""
        return self.warm is None or self.warm.ready()

    def _require_image(self, image: str, fix: str) -> None:
        import docker.errors

        with docker_errors(f"inspecting image {image}"):
            try:
                self.client.api.inspect_image(image)
            except docker.errors.ImageNotFound as exc:
                raise SandboxUnavailable(f"image {image} not built: run {fix}") from exc

    def run(self, request: RunRequest) -> RunResult:
        if self._closed:
            raise SandboxFailure("the docker sandbox is closed")
        try:
            result = self._run(request)
        except SandboxError:
            if not self._closed:
                raise
        if self._closed:  # removed by `close()`: what it saw says nothing of the program
            raise SandboxFailure("the docker sandbox was closed while the program ran")
        return result

    def _run(self, request: RunRequest) -> RunResult:
        missing = sorted(
            set(self.isolation(request.limits).missing()) & self.settings.require_isolation
        )
        if missing:
            raise IsolationRefused(
                f"the docker sandbox gives no {', '.join(missing)} to a run with network=True; "
                "drop them from GRADER_REQUIRE_ISOLATION or run without network"
            )
        if self.warm is not None and self.warm.eligible(request):
            warm = self._run_warm(self.warm, request)
            if warm is not None:
                return warm
        gpus = spec.device_ids(request.limits)
        image = self.settings.gpu_image if gpus else self.settings.image
        if image not in self._checked_images:
            self._require_image(image, "make image GPU=1 (grader image build --gpu)")
            self._checked_images.add(image)
        payload = spec.payload(request, token := secrets.token_hex(16))
        with self._gpu_slots_held(gpus), docker_errors("running a sandbox container"):
            cid = self._create(request, image, gpus)
            self._running.add(cid)
            try:
                wire, state = self._exchange(cid, request.limits, payload, token)
            finally:
                self._running.discard(cid)
                self._remove(cid)
        return self._result(request.limits, wire, state, token)

    def _run_warm(self, warm: DockerWarm, request: RunRequest) -> RunResult | None:
        """The run in a pre-started container; None when none is ready (it then runs cold)."""
        pool, container = warm.take(request.limits)
        if container is None:
            return None
        token = secrets.token_hex(16)
        try:
            with docker_errors("running a warm sandbox container"):
                wire, state = container.run(request, token, request.limits.wall_s)
        finally:
            # Fit for the next job, or recycled now (`warm.py` says when).
            pool.give_back(container, reuse=container.reusable)
        return self._result(request.limits, wire, state, token)

    def close(self) -> None:
        """Remove the containers of runs in flight (their runs fail), shut down the warm pool
        (if the last user) and close the engine client; safe twice, and from any thread."""
        self._closed = True
        for cid in list(getattr(self, "_running", ())):
            with contextlib.suppress(Exception):  # it ended meanwhile, or the engine is gone
                self._remove(cid)
        warm, self.warm = getattr(self, "warm", None), None
        if warm is not None:
            release_warm(warm)
        with contextlib.suppress(Exception):  # closing a client that is already gone
            self.client.close()

    def isolation(self, limits: Limits) -> Isolation:
        """What every container run gets (the network only when the request asks for none)."""
        return Isolation(
            network=not limits.network,
            filesystem=True,
            unprivileged_uid=True,
            memory=True,
            processes=True,
            private_tmp=True,
        )

    @contextlib.contextmanager
    def _gpu_slots_held(self, gpus: tuple[str, ...]) -> Iterator[None]:
        """Hold a slot on each GPU (in a fixed order, so two jobs cannot deadlock)."""
        with self._lock:
            slots = [
                self._gpu_slots.setdefault(g, threading.Semaphore(self._jobs_per_gpu))
                for g in sorted(gpus)
            ]
        with contextlib.ExitStack() as stack:
            for slot in slots:
                stack.enter_context(slot)
            yield

    def _create(self, request: RunRequest, image: str, gpus: tuple[str, ...]) -> str:
        weights = self.settings.weights_dir
        host = spec.host_config(request, weights if weights.is_dir() else None, gpus)
        created = self.client.api.create_container(
            environment=spec.environment(request.env),
            host_config=self.client.api.create_host_config(**host),
            **spec.container_config(image),
        )
        return str(created["Id"])

    def _exchange(
        self, cid: str, limits: Limits, payload: bytes, token: str
    ) -> tuple[Wire, dict[str, Any]]:
        """Attach, start, talk; kill the container when reading stopped early; its final state."""
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        attached = self.client.api.attach_socket(cid, params=params)
        sock = getattr(attached, "_sock", attached)
        try:
            self.client.api.start(cid)
            exchange = Exchange(
                sock,
                payload,
                token,
                limits.output_bytes,
                limits.channel_bytes,
                wall_s=limits.wall_s,
                start_s=START_S,
            )
            wire = exchange.run()
        finally:
            attached.close()
            sock.close()  # closing the SocketIO alone leaves the socket open
        if wire.stop is not None:
            self._kill(cid)
        self.client.api.wait(cid, timeout=_EXIT_WAIT_S)
        state: dict[str, Any] = self.client.api.inspect_container(cid)["State"]
        return wire, state

    def _kill(self, cid: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError):  # it ended by itself meanwhile
            self.client.api.kill(cid)

    def _remove(self, cid: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(cid, force=True, v=True)

    def _result(self, limits: Limits, wire: Wire, state: dict[str, Any], token: str) -> RunResult:
        if wire.stop == "start":
            raise SandboxFailure(f"the sandbox container did not start its program in {START_S}s")
        seen = outcome(wire.stdout, token, limits.output_bytes, limits.channel_bytes)
        if not seen.started:
            raise SandboxFailure(
                "the sandbox supervisor failed before the program started "
                f"(exit {state.get('ExitCode')}): {_tail(wire.stderr)}"
            )
        code, sig = _exit_status(wire, seen, state)
        header = seen.header or {}
        cpu_s = header.get("cpu_s")
        return RunResult(
            exit_code=code,
            signal=sig,
            stdout=seen.stdout,
            stderr=bytes(wire.stderr[: limits.output_bytes]),
            channel=seen.channel[: limits.channel_bytes],
            timed_out=wire.stop == "wall" or _cpu_killed(limits, sig, cpu_s),
            memory_exceeded=bool(header.get("oom_kills")) or bool(state.get("OOMKilled")),
            output_exceeded=wire.stop in ("stdout", "stderr") or seen.output_exceeded,
            channel_exceeded=len(seen.channel) > limits.channel_bytes,
            wall_s=wire.ended_at - (wire.started_at or wire.ended_at),
            cpu_s=float(cpu_s) if isinstance(cpu_s, int | float) else None,
            peak_memory_bytes=_int(header.get("peak_memory_bytes")),
            isolation=self.isolation(limits),
            backend=self.name,
        )


def _exit_status(
    wire: Wire, seen: AttachOutcome, state: dict[str, Any]
) -> tuple[int | None, int | None]:
    """The program's status from the supervisor; the container's when the supervisor is gone."""
    if wire.stop is not None:
        return None, int(signal.SIGKILL)  # the host killed the run before the program ended
    if seen.header is not None:
        return _int(seen.header.get("exit_code")), _int(seen.header.get("signal"))
    code = _int(state.get("ExitCode"))
    if code is not None and code > 128:
        return None, code - 128  # docker-init reports a signalled child as 128 + signal
    return code, None


def _cpu_killed(limits: Limits, sig: int | None, cpu_s: object) -> bool:
    """RLIMIT_CPU ends a process with SIGXCPU, then SIGKILL at the hard limit."""
    if sig == signal.SIGXCPU:
        return True
    used = cpu_s if isinstance(cpu_s, int | float) else 0.0
    return sig == signal.SIGKILL and used >= limits.cpu_s


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tail(data: bytes | bytearray) -> str:
    text = bytes(data[-2000:]).decode(errors="replace").strip()
    return " | ".join(text.splitlines()[-5:]) or "(no output)"
