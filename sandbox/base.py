"""The sandbox contract: limits, a request, a result, and the protocol every backend implements.

A backend's `run()` never raises because of what the submitted program did: a crash, a timeout, an
out-of-memory kill or an output flood are all results. It raises `SandboxError` only when the
sandbox itself fails. Limits travel with each request, so one backend serves items with different
budgets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

MiB = 1024 * 1024

#: Environment variable naming where the program writes observations (not stdout). `fd:N`: an
#: open file descriptor N (a pipe; the process backend); anything else: a file path (the docker
#: backend). The host reads it with a cap of `Limits.channel_bytes` and follows no link to it.
CHANNEL_ENV = "SANDBOX_CHANNEL"


class GpuPolicy(StrEnum):
    """Whether a job gets a GPU: never, if the host has one, or it must."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


@dataclass(frozen=True)
class Limits:
    """Resource budget for one run. Every limit is enforced by the host, not by the program."""

    wall_s: float = 20.0
    cpu_s: float = 20.0
    memory_bytes: int = 2048 * MiB
    processes: int = 64
    output_bytes: int = 64 * 1024
    file_bytes: int = 16 * MiB
    workdir_bytes: int = 64 * MiB
    channel_bytes: int = 1 * MiB
    network: bool = False
    gpu: GpuPolicy = GpuPolicy.NONE
    gpu_devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRequest:
    """What to run: `argv[0] == "python"` means the sandbox runtime's own interpreter.

    `files` are written into a fresh, empty working directory (relative paths only). `env` adds
    variables to the scrubbed environment; nothing of the host's environment is inherited.
    """

    argv: tuple[str, ...]
    files: Mapping[str, bytes] = field(default_factory=dict)
    stdin: bytes = b""
    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Isolation:
    """Which isolations were in force for a run; `False` means the host could not give it."""

    network: bool = False
    filesystem: bool = False
    unprivileged_uid: bool = False
    memory: bool = False
    processes: bool = False
    private_tmp: bool = False

    def missing(self) -> list[str]:
        """Names of the isolations that were not in force."""
        return [name for name, on in vars(self).items() if not on]


@dataclass(frozen=True)
class RunResult:
    """What happened. Output fields are capped at `Limits.output_bytes` each."""

    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    channel: bytes
    timed_out: bool
    memory_exceeded: bool
    output_exceeded: bool
    channel_exceeded: bool
    wall_s: float
    cpu_s: float | None
    peak_memory_bytes: int | None
    isolation: Isolation
    backend: str

    @property
    def ok(self) -> bool:
        """True when the program exited 0 within every limit."""
        limited = self.timed_out or self.memory_exceeded or self.output_exceeded
        return self.exit_code == 0 and not limited


@runtime_checkable
class Sandbox(Protocol):
    """A place to run untrusted programs. Implementations: `process`, `container`, `fake`."""

    name: str

    def run(self, request: RunRequest) -> RunResult:
        """Run one program in a fresh environment; raise only for the sandbox's own failures."""
        ...

    def close(self) -> None:
        """Release what the backend holds (pools, clients). Safe to call twice."""
        ...
