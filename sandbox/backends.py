"""Pick a sandbox backend by name; the one place that knows every backend."""

from __future__ import annotations

from sandbox.base import Sandbox
from sandbox.errors import SandboxUnavailable
from sandbox.settings import SandboxSettings

BACKENDS = ("process", "docker")


def open_sandbox(name: str, settings: SandboxSettings | None = None) -> Sandbox:
    """Start the named backend; raises `SandboxUnavailable` saying why it cannot run here."""
    settings = settings or SandboxSettings()
    if name == "process":
        from sandbox.process import ProcessSandbox

        sandbox = ProcessSandbox(settings)
        sandbox.prestart()  # warm pools start ahead of demand
        return sandbox
    if name == "docker":
        from sandbox.container import ContainerSandbox

        docker = ContainerSandbox(settings)
        docker.prestart()
        return docker
    choices = ", ".join(BACKENDS)
    raise SandboxUnavailable(f"unknown sandbox backend {name!r}; choose one of {choices}")


def wait_warm(sandbox: Sandbox, timeout_s: float = 300.0) -> bool:
    """Wait until the sandbox's warm pool is full (runs finding none ready go cold); True when
    it is, or when the backend has no pool. Long runs (hostile corpus, self-test, bench) call it
    so that they measure and exercise the warm path."""
    import time

    ready = getattr(sandbox, "warm_ready", None)
    deadline = time.monotonic() + timeout_s
    while ready is not None and not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
