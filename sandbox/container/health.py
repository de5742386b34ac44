"""What `grader doctor` asks the docker backend: is the engine there, is the image built, and
which warm containers are on the engine.

Every question goes through the backend's own client and error mapping (`errors.py`), so a
failure arrives as `SandboxUnavailable` (no engine) or `SandboxFailure` (it failed mid-way), the
Docker error as its `__cause__`. Each opens a short-lived client with a short timeout: a doctor
must answer even when the engine hangs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.container.errors import docker_client, docker_errors
from sandbox.container.images import ImageInfo, image_info
from sandbox.container.warm import owner_alive, owner_of, warm_containers

__all__ = [
    "DOCTOR_TIMEOUT_S",
    "ImageInfo",
    "WarmCensus",
    "engine_version",
    "image_info",
    "warm_census",
]

#: Seconds each of the doctor's API calls may take.
DOCTOR_TIMEOUT_S = 5


@dataclass(frozen=True)
class WarmCensus:
    """The warm containers on the engine, of every grader process on it."""

    containers: int
    #: Those whose owner process is gone; the next pool that starts removes them.
    stale: int
    #: Grader processes (owners) they belong to.
    owners: int


@contextmanager
def _client(timeout_s: int) -> Iterator[Any]:
    client = docker_client(timeout_s)
    try:
        yield client
    finally:
        client.close()


def engine_version(timeout_s: int = DOCTOR_TIMEOUT_S) -> str | None:
    """The engine's version (None if it gives none); raises when there is no engine."""
    with _client(timeout_s) as client, docker_errors("asking the engine its version"):
        version: str | None = client.version().get("Version")
    return version


def warm_census(timeout_s: int = DOCTOR_TIMEOUT_S) -> WarmCensus:
    """Count the warm containers, their owners, and those whose owner is gone."""
    with _client(timeout_s) as client, docker_errors("listing the warm containers"):
        owners = [owner_of(found) for found in warm_containers(client)]
    return WarmCensus(
        containers=len(owners),
        stale=sum(not owner_alive(owner) for owner in owners),
        owners=len(set(owners)),
    )
