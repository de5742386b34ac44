"""Fixtures for the course server, in process by default and as a real process where that matters.

In process (`make_app`, `app`): the app from `create_app` under FastAPI's TestClient, its store a
SQLite file in tmp_path, graded by the real in-process pool (`LocalPool`) with a fake sandbox,
or inline as each submission is dispatched (`grading="inline"`: a read right after a submit sees
the report); with `deliveries=True` the real delivery sender posts LMS callbacks. A test of an
assignment's rules gives the app a `catalog` and sets `state.clock`.

A real `grader serve` (`live_server`, `make_server`; grader/ops/loopback.py) only where the
process is the point: a SIGKILL or a SIGTERM, a restart, `grader submit` end to end, a body on
uvicorn's own socket.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank, load_bank
from grader.courses.catalog import Catalog
from grader.ops.loopback import RedisServer, ServerProcess
from grader.service import grading, tokens
from grader.service.app import create_app
from grader.service.db import Submission, open_store
from grader.service.deliveries import DeliverySender
from grader.service.dispatch import Dispatcher
from grader.service.pool import LocalPool
from grader.service.settings import ServiceSettings
from grader.service.state import ServiceState
from sandbox.fake import FakeSandbox, Handler, result

with warnings.catch_warnings():  # Starlette warns on import that it prefers httpx2 to httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as TestClient  # re-exported for the test modules

MakeServer = Callable[..., ServerProcess]
Grading = Literal["pool", "inline"]


class InlineGrading:
    """A dispatcher that grades at once, in the request's thread, with a fake sandbox."""

    def __init__(self, sessions: sessionmaker[Session], bank: Bank) -> None:
        self.sessions = sessions
        self.bank = bank

    def dispatch(self, submission_id: str, queue: str) -> None:
        sandbox = FakeSandbox(lambda request: result())
        grading.run_job(self.sessions, self.bank, submission_id, sandbox, "inline")

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass
class InProcess:
    """The app under a TestClient, with the state it serves and the URL of its store."""

    client: TestClient
    app: FastAPI
    state: ServiceState
    db_url: str

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.state.sessions

    def token(self, student: str, course: str | None = None) -> str:
        """A new bearer token for `student`, stored as `grader tokens create` stores it."""
        with self.sessions() as session:
            return tokens.create_token(session, student, course)

    def instructor(self, name: str, course: str) -> str:
        """A new instructor's token for `course`, as `grader tokens create --instructor` makes."""
        with self.sessions() as session:
            return tokens.create_token(session, name, course, role=tokens.INSTRUCTOR)

    def row(self, submission_id: str) -> Submission:
        with self.sessions() as session:
            row = session.get(Submission, submission_id)
        assert row is not None, submission_id
        return row

    def wait_done(self, *ids: str, timeout_s: float = 20.0) -> None:
        """Until every submission has its report; AssertionError if one does not in time."""
        deadline = time.monotonic() + timeout_s
        while not all(self.row(i).status == "done" for i in ids):
            assert time.monotonic() < deadline, "not graded in time"
            time.sleep(0.02)


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture(scope="session")
def course_bank() -> Bank:
    """The course's bank, loaded once (the app only reads it)."""
    return load_bank()


@pytest.fixture
def make_app(tmp_path: Path, course_bank: Bank) -> Iterator[Callable[..., InProcess]]:
    """Build the app in process: `make_app(grading=..., deliveries=..., catalog=...,
    handler=..., **settings)`, where `settings` are `ServiceSettings` fields (`student_burst=2`)
    and `handler` answers the pool's fake sandboxes (default: an empty result). All stop
    afterwards."""
    with ExitStack() as stack:
        made = 0

        def make(
            grading: Grading = "pool",
            deliveries: bool = False,
            catalog: Catalog | None = None,
            handler: Handler | None = None,
            **settings: Any,
        ) -> InProcess:
            nonlocal made
            made += 1
            db_url = f"sqlite:///{tmp_path / f'grader-{made}.db'}"
            config = ServiceSettings(db_url=db_url, **settings)
            sessions = open_store(db_url)
            stack.callback(sessions.kw["bind"].dispose)
            dispatcher: Dispatcher = (
                InlineGrading(sessions, course_bank)
                if grading == "inline"
                else LocalPool(
                    config,
                    sessions,
                    course_bank,
                    open_sandbox=lambda: FakeSandbox(handler or (lambda request: result())),
                    poll_s=0.1,
                )
            )
            state = ServiceState(config, sessions, course_bank, dispatcher, catalog or Catalog())
            dispatcher.start()
            stack.callback(dispatcher.stop)
            if deliveries:
                sender = DeliverySender(sessions, config, poll_s=0.05, courses=state)
                sender.start()
                stack.callback(sender.stop)
            app = create_app(state)
            client = stack.enter_context(TestClient(app))
            return InProcess(client, app, state, db_url)

        yield make


@pytest.fixture
def app(make_app: Callable[..., InProcess]) -> InProcess:
    """The app in process with default settings, graded by the in-process pool."""
    return make_app()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, default settings; each test uses students of its own."""
    server = ServerProcess(tmp_path_factory.mktemp("server")).start()
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """Start a real server with a test's own settings (`env`, extra `args`); all stop after."""
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


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for a module's Celery tests (skipped, or failed under
    GRADER_TEST_STRICT, where none can start)."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except RuntimeError as exc:
        pytest.skip(f"no Redis for the Celery tests: {exc}")
    yield server
    server.close()
