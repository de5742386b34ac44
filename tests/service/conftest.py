"""Fixtures for the course server, in process by default and as a real process where that matters.

In process (`make_app`, `app`): the app from `create_app` under FastAPI's TestClient, its store a
SQLite file in tmp_path (or PostgreSQL: below), graded by the real in-process pool (`LocalPool`)
with a fake sandbox, or inline as each submission is dispatched (`grading="inline"`: a read right
after a submit sees the report); with `deliveries=True` the real delivery sender posts LMS
callbacks. A test of an assignment's rules gives the app a `catalog` and sets `state.clock`.

A real `grader serve` (`live_server`, `make_server`; grader/ops/loopback.py) only where the
process is the point: a SIGKILL or a SIGTERM, a restart, `grader submit` end to end, a body on
uvicorn's own socket.

The store is SQLite unless a test is parametrised over `store_kind` (`@both_stores`): then it runs
once more on the machine's PostgreSQL (`GRADER_TEST_PG_URL`), each store a scratch database no
other run sees. The Celery tests' broker likewise: a private redis-server, or a private virtual
host on the machine's RabbitMQ (`GRADER_TEST_AMQP_URL`). A server that does not answer skips the
test with the reason, and fails it under GRADER_TEST_STRICT=1 (`make ci`).
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
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from grader.bank import Bank, load_bank
from grader.courses.catalog import Catalog
from grader.ops.loopback import (
    STORES,
    Broker,
    PostgresServer,
    RabbitVhost,
    RedisServer,
    ServerProcess,
)
from grader.service import tokens
from grader.service.app import create_app
from grader.service.db import Submission, open_store, upgrade
from grader.service.deliveries import DeliverySender
from grader.service.dispatch import Dispatcher
from grader.service.pool import LocalPool
from grader.service.settings import ServiceSettings
from grader.service.state import ServiceState
from sandbox.fake import FakeSandbox, Handler, result
from tests.support.inline import InlineGrading

with warnings.catch_warnings():  # Starlette warns on import that it prefers httpx2 to httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as TestClient  # re-exported for the test modules

MakeServer = Callable[..., ServerProcess]
Grading = Literal["pool", "inline"]
StoreUrl = Callable[..., str]

#: Run a test on SQLite and on PostgreSQL: where what the store does is the point.
both_stores = pytest.mark.parametrize("store_kind", STORES, indirect=True)
#: Run a Celery test on each broker, each with a store: Redis with SQLite as one machine runs
#: it, RabbitMQ with PostgreSQL as a fleet of hosts does (worker processes sharing one database).
both_brokers = pytest.mark.parametrize(
    ("broker", "store_kind"),
    [("redis", "sqlite"), ("rabbitmq", "postgres")],
    indirect=True,
    ids=["redis-sqlite", "rabbitmq-postgres"],
)


class PostgresStores:
    """Scratch databases on the test server at the newest schema, each lent to one test at a time
    and emptied as it is lent: a store costs a TRUNCATE (about 20 ms) rather than a database and
    its migrations (about 400 ms). `blank()` is a database with no schema, for the migrations."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.free: list[str] = []

    def lend(self) -> str:
        url = self.free.pop() if self.free else self._new()
        _empty(url)
        return url

    def give_back(self, url: str) -> None:
        self.free.append(url)

    def blank(self) -> str:
        return self.server.create()

    def _new(self) -> str:
        url = self.server.create()
        upgrade(url)
        return url


def _empty(url: str) -> None:
    """Delete every row of every table but Alembic's, and restart the ids."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as db:
            db.execute(text("SET LOCAL lock_timeout = '10s'"))  # a leftover holder: fail, not hang
            tables = db.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = "
                    "current_schema() AND tablename <> 'alembic_version'"
                )
            ).all()
            db.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


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


@pytest.fixture(scope="session")
def postgres_stores() -> Iterator[PostgresStores]:
    """The test session's scratch databases on the machine's PostgreSQL, dropped at its end."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL for the store tests: {exc}")
    yield PostgresStores(server)
    server.close()


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the test runs on: `sqlite` unless parametrised (`both_stores`)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def store_url(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreUrl]:
    """`store_url(blank=False)`: a new store's URL of the test's kind, no row of any other test
    or run in it. SQLite: a new file in tmp_path. PostgreSQL: an emptied scratch database at the
    newest schema, or with `blank` one with no schema at all."""
    made = 0
    lent: list[str] = []
    blanks: list[str] = []
    pool: PostgresStores | None = None
    if store_kind == "postgres":
        pool = request.getfixturevalue("postgres_stores")

    def new(blank: bool = False) -> str:
        nonlocal made
        made += 1
        if pool is None:
            return f"sqlite:///{tmp_path / f'grader-{made}.db'}"
        url = pool.blank() if blank else pool.lend()
        (blanks if blank else lent).append(url)
        return url

    yield new
    if pool is not None:
        for url in lent:
            pool.give_back(url)
        for url in blanks:
            pool.server.drop(url)


@pytest.fixture
def make_app(store_url: StoreUrl, course_bank: Bank) -> Iterator[Callable[..., InProcess]]:
    """Build the app in process: `make_app(grading=..., deliveries=..., catalog=...,
    handler=..., **settings)`, where `settings` are `ServiceSettings` fields (`student_burst=2`)
    and `handler` answers the pool's fake sandboxes (default: an empty result). All stop
    afterwards."""
    with ExitStack() as stack:

        def make(
            grading: Grading = "pool",
            deliveries: bool = False,
            catalog: Catalog | None = None,
            handler: Handler | None = None,
            **settings: Any,
        ) -> InProcess:
            db_url = store_url()
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
def make_server(tmp_path: Path, store_url: StoreUrl) -> Iterator[MakeServer]:
    """Start a real server with a test's own settings (`env`, extra `args`) on a new store of the
    test's kind (`store_url`); all stop after."""
    started: list[ServerProcess] = []

    def make(env: Mapping[str, str] | None = None, args: Sequence[str] = ()) -> ServerProcess:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        server = ServerProcess(folder, env, args, db_url=store_url())
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


@pytest.fixture(scope="module")
def rabbit_vhost() -> Iterator[RabbitVhost]:
    """A private virtual host on the machine's RabbitMQ for a module's Celery tests (skipped, or
    failed under GRADER_TEST_STRICT, where it does not answer)."""
    try:
        vhost = RabbitVhost()
    except RuntimeError as exc:
        pytest.skip(f"no RabbitMQ for the Celery tests: {exc}")
    yield vhost
    vhost.close()


BROKER_FIXTURES = {"redis": "redis_server", "rabbitmq": "rabbit_vhost"}


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> Broker:
    """The Celery test's broker, every queue empty: Redis unless parametrised (`both_brokers`)."""
    found: Broker = request.getfixturevalue(BROKER_FIXTURES[getattr(request, "param", "redis")])
    found.flush()
    return found
