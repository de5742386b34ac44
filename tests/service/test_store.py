"""The store's promises where several writers meet, on SQLite and on PostgreSQL.

Each test runs on both stores: a scratch PostgreSQL database is where row locks, READ COMMITTED
and separate connections decide, and a rule that held only by SQLite's one writer at a time fails
there; the races run once more with SERIALIZABLE transactions, which PostgreSQL gives up rather
than make wait. Processes claim as several course servers sharing one database would; threads,
each with an engine of its own, write reports and take attempt numbers as racing workers and
requests would.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from grader.service import lms_clients, store
from grader.service.db import (
    Base,
    Delivery,
    ReportVersion,
    Submission,
    alembic_config,
    make_engine,
    open_store,
)
from grader.service.errors import AttemptsUsedUp
from tests.service.claimers import claim_all, own_sessions
from tests.service.conftest import StoreUrl, both_stores

#: The races on each store, and once more on PostgreSQL with SERIALIZABLE transactions, where
#: the loser is given up (a serialization failure) instead of waiting and reading the winner's row.
races = pytest.mark.parametrize(
    ("store_kind", "isolation"),
    [("sqlite", None), ("postgres", None), ("postgres", "SERIALIZABLE")],
    indirect=["store_kind"],
    ids=["sqlite", "postgres", "postgres-serializable"],
)

T = TypeVar("T")
REPORT = {"question": "q", "status": "passed", "verdict": "PASSED", "score": 1, "max_score": 1}
CLAIMERS = 4
STUDENTS = 10
PER_STUDENT = 8


@pytest.fixture
def url(store_url: StoreUrl) -> str:
    return store_url()


@pytest.fixture
def sessions(url: str) -> Iterator[sessionmaker[Session]]:
    made = open_store(url)
    yield made
    made.kw["bind"].dispose()


def queue_work(sessions: sessionmaker[Session], students: int, each: int) -> list[str]:
    """`each` queued submissions of every one of `students` students; their ids."""
    with sessions() as session:
        rows = [
            store.add_submission(session, store.NewSubmission("q", f"s{n}", choice="A"))
            for _ in range(each)
            for n in range(students)
        ]
        session.commit()
        return [row.id for row in rows]


def at_once(count: int, act: Callable[[int], T]) -> list[T]:
    """`act(0..count-1)` in as many threads, released together; what each returned (an
    exception in one is raised here)."""
    start = threading.Barrier(count)

    def one(n: int) -> T:
        start.wait(30)
        return act(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def separate(url: str, isolation: str | None) -> Iterator[Callable[[], sessionmaker[Session]]]:
    """`separate()`: sessions on an engine of their own, as another process would have, at the
    test's `isolation`."""
    engines = []

    def make() -> sessionmaker[Session]:
        engine, sessions = own_sessions(url, isolation)
        engines.append(engine)
        return sessions

    yield make
    for engine in engines:
        engine.dispose()


# -- claims ---------------------------------------------------------------------------------------


@races
def test_processes_claiming_from_one_store_take_each_submission_once(url, sessions, isolation):
    ids = queue_work(sessions, STUDENTS, PER_STUDENT)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(CLAIMERS + 1)
    claimed: multiprocessing.Queue[tuple[str, list[str]]] = context.Queue()
    names = [f"server-{n}" for n in range(CLAIMERS)]
    processes = [
        context.Process(target=claim_all, args=(url, isolation, name, start, claimed))
        for name in names
    ]
    for process in processes:
        process.start()
    start.wait(60)
    by_process = dict(claimed.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(30)
    assert [process.exitcode for process in processes] == [0] * CLAIMERS

    taken = Counter(i for mine in by_process.values() for i in mine)
    assert sorted(taken) == sorted(ids) and set(taken.values()) == {1}, "claimed twice or never"
    with sessions() as session:
        rows = {row.id: row for row in session.scalars(select(Submission))}
    assert {(row.status, row.attempts) for row in rows.values()} == {("running", 1)}
    assert all(rows[i].graded_by == name for name, mine in by_process.items() for i in mine)


@both_stores
def test_a_crash_puts_running_work_back_and_the_next_claim_counts_an_attempt(sessions):
    first, second, waiting = queue_work(sessions, 3, 1)
    with sessions() as session:
        assert store.claim(session, first, "old") and store.claim(session, second, "old")
        assert store.requeue_running(session) == 2
        again = [store.claim_next(session, "new") for _ in range(4)]
    assert sorted(filter(None, again)) == sorted([first, second, waiting])
    with sessions() as session:
        attempts = {row.id: row.attempts for row in session.scalars(select(Submission))}
    assert attempts == {first: 2, second: 2, waiting: 1}


# -- reports and the deliveries they owe -----------------------------------------------------------


def claimed_lms_submission(sessions: sessionmaker[Session]) -> str:
    """A submission an LMS sent (its report owed to a callback), claimed by a worker."""
    with sessions() as session:
        lms_clients.add_client(session, "canvas", ["127.0.0.1"])
        client = lms_clients.get_client(session, "canvas")
        new = store.NewSubmission(
            "q", "s", choice="A", client_id=client.id, callback_url="http://127.0.0.1:1/hook"
        )
        submission_id = store.add_submission(session, new).id
        session.commit()
        assert store.claim(session, submission_id, "w")
        return submission_id


@races
def test_racing_finishes_write_one_report_and_owe_one_delivery(sessions, separate):
    submission_id = claimed_lms_submission(sessions)
    workers = [separate() for _ in range(6)]

    def finish(n: int) -> bool:
        with workers[n]() as session:
            return store.finish(session, submission_id, REPORT | {"message": f"worker {n}"})

    won = at_once(len(workers), finish)
    assert sorted(won) == [False] * 5 + [True]
    with sessions() as session:
        row = session.get_one(Submission, submission_id)
        versions = session.scalars(select(ReportVersion.version)).all()
        deliveries = session.scalars(select(Delivery)).all()
    assert (row.status, row.version, row.gradings) == ("done", 1, 6)
    assert row.report is not None and row.report["message"] == f"worker {won.index(True)}"
    assert versions == [1]
    assert [(d.submission_id, d.version, d.state) for d in deliveries] == [
        (submission_id, 1, "pending")
    ]


@races
def test_a_regrade_writes_version_two_once_and_owes_it_in_place_of_the_first(sessions, separate):
    submission_id = claimed_lms_submission(sessions)
    with sessions() as session:
        assert store.finish(session, submission_id, REPORT)
        first_webhook = session.scalar(select(Delivery.webhook_id))
        row = session.get_one(Submission, submission_id)
        row.status, row.regrade_by = "queued", "ted"
        session.commit()
    workers = [separate() for _ in range(4)]
    for n, worker in enumerate(workers):  # a regrade's message handed out four times
        with worker() as session:
            assert store.claim(session, submission_id, f"w{n}")

    def regrade(n: int) -> bool:
        with workers[n]() as session:
            return store.finish(session, submission_id, REPORT | {"score": 0}, version=1)

    assert sorted(at_once(len(workers), regrade)) == [False] * 3 + [True]
    with sessions() as session:
        row = session.get_one(Submission, submission_id)
        changes = session.execute(
            select(ReportVersion.version, ReportVersion.change, ReportVersion.by).order_by(
                ReportVersion.version
            )
        ).all()
        [delivery] = session.scalars(select(Delivery)).all()
    assert (row.version, row.regrade_by, row.report and row.report["score"]) == (2, None, 0)
    assert [tuple(change) for change in changes] == [(1, "graded", "grader"), (2, "regrade", "ted")]
    assert (delivery.version, delivery.state) == (2, "pending")
    assert delivery.webhook_id != first_webhook


# -- attempts --------------------------------------------------------------------------------------


@races
def test_attempts_taken_at_once_never_pass_the_limit(sessions, separate):
    """Under SERIALIZABLE, PostgreSQL reports the losing insert as a serialization failure, not
    as the unique violation SQLite (and READ COMMITTED) raise: both must count again."""
    new = store.NewSubmission("q", "s", choice="A", assignment="quiz")
    racers = [separate() for _ in range(12)]

    def submit(n: int) -> str:
        try:
            store.add_counted(racers[n], new, limit=3)
        except AttemptsUsedUp:
            return "used up"
        return "stored"

    assert sorted(at_once(len(racers), submit)) == ["stored"] * 3 + ["used up"] * 9
    with sessions() as session:
        taken = session.scalars(select(Submission.attempt).order_by(Submission.attempt)).all()
        assert taken == [1, 2, 3]
        assert session.scalar(select(func.count()).select_from(Submission)) == 3


# -- migrations ------------------------------------------------------------------------------------


@both_stores
def test_every_migration_goes_down_to_nothing_and_up_to_the_models_schema(store_url):
    url = store_url(blank=True)
    config = alembic_config(url)
    revisions = [script.revision for script in ScriptDirectory.from_config(config).walk_revisions()]
    command.upgrade(config, "head")
    for _ in revisions:  # one step at a time, newest first: each downgrade must run on its own
        command.downgrade(config, "-1")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
        with engine.connect() as db:
            assert compare_metadata(MigrationContext.configure(db), Base.metadata) == []
    finally:
        engine.dispose()
