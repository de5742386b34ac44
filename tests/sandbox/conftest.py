"""The `sandbox` fixture: every contract test runs once per backend; a backend that cannot run
on this host is skipped with the reason printed (never silently)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.backends import BACKENDS, open_sandbox
from sandbox.base import Sandbox
from sandbox.errors import SandboxUnavailable

_opened: dict[str, Sandbox | str] = {}


def _backend(name: str) -> Sandbox | str:
    """Open each backend once per session; remember why one could not open."""
    if name not in _opened:
        try:
            _opened[name] = open_sandbox(name)
        except SandboxUnavailable as exc:
            _opened[name] = str(exc)
    return _opened[name]


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = _backend(request.param)
    if isinstance(backend, str):
        pytest.skip(f"{request.param} backend unavailable: {backend}")
    yield backend


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for backend in _opened.values():
        if not isinstance(backend, str):
            backend.close()
