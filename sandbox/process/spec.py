"""What the host tells the jail, typed: the launcher's spec and a warm job's payload.

Both travel as JSON, and the code that reads them runs inside the jail on the standard library
alone (`launcher.py`, `zygote.py`), so it reads plain dicts keyed by these field names: renaming
a field here means renaming it there. Typed here, a misspelt key is a mypy error on the host
rather than a `KeyError` in the jail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, Literal

from sandbox.process.jail import Op, Rlimits


@dataclass(frozen=True)
class LaunchSpec:
    """What `launcher.py` builds and runs: a cold run's program, or a warm zygote."""

    #: "namespaces": the full jail; "direct": rlimits and exec (a host without the jail).
    mode: Literal["namespaces", "direct"]
    #: Stay in the host's network namespace (a run with `Limits.network`).
    share_net: bool
    argv: list[str]
    env: dict[str, str]
    cwd: str
    #: The program's uid and gid; None keeps root (a zygote: its children drop to the job's).
    uid: int | None
    gid: int | None
    #: The real uid a child of the program may take (the harness's runner), or None.
    second_uid: int | None
    rlimits: Rlimits
    #: The cgroup.procs files the program joins before it starts.
    cgroup_procs: list[str]
    #: The empty host directory the jail's root is built on.
    root: str
    #: The jail's root, in the order the launcher applies it (`jail.mounts`).
    mounts: list[Op]
    #: Descriptors the program inherits (the channel's pipe, a zygote's control socket).
    keep_fds: list[int]
    #: Seconds after which the launcher ends the run itself, should the host be gone.
    backstop_s: float
    #: The seccomp filter in hex (`seccomp.program()`), or None for none.
    seccomp: str | None

    def to_json(self, status_fd: int) -> str:
        """The spec file's text. `status_fd` comes last and apart: it is the pipe (or log) init
        reports on, opened only when the launcher is about to start."""
        return json.dumps({**_fields(self), "status_fd": status_fd})


@dataclass(frozen=True)
class WarmJobSpec:
    """One warm job, as a zygote's child reads it from its payload pipe (`zygote.serve`)."""

    #: What the warm interpreter runs (`warm_program.plan`).
    program: dict[str, Any]
    env: dict[str, str]
    cwd: str
    #: The job's own uid (its gid too) and the second uid its runner may take.
    uid: int
    second_uid: int
    rlimits: Rlimits
    seccomp: str | None
    #: The submission's files: relative name -> base64 of the content.
    files: dict[str, str]
    #: Whether the job runs with the zygote's preloaded modules (its copy of them left out of
    #: `files`); otherwise they are taken out of `sys.modules` first (`sandbox.warm.preload`).
    preloaded: bool
    #: Fresh writable mounts over the zygote's (`jail.job_mounts`).
    mounts: list[Op]
    #: /etc/passwd and /etc/group naming the job's uid (`jail.etc_files`).
    etc: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(_fields(self))


def _fields(spec: LaunchSpec | WarmJobSpec) -> dict[str, Any]:
    """The spec's fields as they are (its values are already plain JSON data: `asdict` would
    deep-copy them all, a few milliseconds of the host's time per job)."""
    return {field.name: getattr(spec, field.name) for field in fields(spec)}
