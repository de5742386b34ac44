"""Fixtures for the course server: a real `grader serve` on loopback (see live.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.service.live import ServerProcess

MakeServer = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, default settings; each test uses students of its own."""
    server = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """Start a server with a test's own settings (`env`, extra `args`); all stop afterwards."""
    started: list[ServerProcess] = []

    def make(env: Mapping[str, str] | None = None, args: Sequence[str] = ()) -> ServerProcess:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        server = ServerProcess(folder, env, args)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()
