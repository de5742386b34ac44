"""The one place where Docker SDK and transport errors become sandbox errors.

engine unreachable (socket, refused, not running)  -> SandboxUnavailable (run install-docker.sh)
API error, timeout, broken connection mid-job      -> SandboxFailure
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.errors import SandboxError, SandboxFailure, SandboxUnavailable

#: Seconds an engine API call may take before the job fails (not the job's own wall limit).
API_TIMEOUT_S = 60


def engine_url() -> str:
    """Where the Docker SDK looks for the engine (DOCKER_HOST, else the local socket)."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_client(timeout_s: int = API_TIMEOUT_S) -> Any:
    """A client for the engine that answers `ping`; SandboxUnavailable if there is none.
    `timeout_s` bounds each API call (the doctor asks for less: it must answer quickly)."""
    import docker
    import requests.exceptions

    try:
        client = docker.from_env(timeout=timeout_s)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise SandboxUnavailable(
            f"Docker engine not reachable at {engine_url()}: run scripts/install-docker.sh "
            f"({_reason(exc)})"
        ) from exc
    return client


@contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """Translate SDK and transport errors raised while `doing` something into sandbox errors."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except SandboxError:
        raise
    except requests.exceptions.ConnectionError as exc:
        raise SandboxUnavailable(
            f"Docker engine at {engine_url()} went away while {doing}: run "
            f"scripts/install-docker.sh ({_reason(exc)})"
        ) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise SandboxFailure(f"Docker failed while {doing}: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """A one-line reason: the engine's explanation when it gave one."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc) or type(exc).__name__
    return " ".join(text.split())[:300]
