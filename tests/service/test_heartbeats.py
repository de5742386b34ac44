"""A lost worker's jobs go back to the queue once its heartbeat stops, and are reported once.

The reaper's rules on a SQLite store (stale, fresh, finished, re-claimed meanwhile, never seen),
then a real fleet on a real Redis: a whole worker SIGKILLed mid-job, its job graded by the
survivor well before Redis' visibility timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader.ops.loopback import Broker, Fleet, echo_source, wait_until, write_bank
from grader.service import store
from grader.service.db import Submission, Worker, open_store
from grader.service.heartbeats import (
    Heartbeat,
    Reaper,
    beat,
    give_back,
    lost_jobs,
    owner,
    requeue_lost,
    worker_name,
)
from tests.service.conftest import StoreUrl, both_stores

TIMEOUT = 30.0


@pytest.fixture
def sessions(store_url: StoreUrl) -> Iterator[sessionmaker[Session]]:
    made = open_store(store_url())
    yield made
    made.kw["bind"].dispose()


def running(sessions: sessionmaker[Session], worker: str) -> str:
    """A submission claimed by pool process 7 of `worker`."""
    with sessions() as session:
        submission_id = store.add_submission(session, store.NewSubmission("q", "s", choice="A")).id
        session.commit()
        assert store.claim(session, submission_id, f"{worker}/7")
    return submission_id


def seen(sessions: sessionmaker[Session], worker: str, ago_s: float) -> None:
    with sessions() as session:
        beat(session, worker, 1, time.time() - 100)
        session.get_one(Worker, worker).last_seen = time.time() - ago_s
        session.commit()


def status(sessions: sessionmaker[Session], submission_id: str) -> tuple[str, str | None]:
    with sessions() as session:
        row = session.get_one(Submission, submission_id)
        return row.status, row.graded_by


@both_stores
def test_a_job_of_a_worker_not_seen_for_longer_than_the_timeout_goes_back(sessions) -> None:
    seen(sessions, "h:1", ago_s=TIMEOUT + 5)
    job = running(sessions, "h:1")
    with sessions() as session:
        given = requeue_lost(session, TIMEOUT)
    assert [(j.id, j.worker, j.queue) for j in given] == [(job, "h:1", "cpu")]
    assert status(sessions, job)[0] == "queued"


def test_a_job_of_a_worker_seen_lately_stays(sessions) -> None:
    seen(sessions, "h:1", ago_s=TIMEOUT - 5)
    job = running(sessions, "h:1")
    with sessions() as session:
        assert requeue_lost(session, TIMEOUT) == []
    assert status(sessions, job) == ("running", "h:1/7")


def test_a_finished_job_of_a_lost_worker_is_left_alone(sessions) -> None:
    seen(sessions, "h:1", ago_s=TIMEOUT + 5)
    job = running(sessions, "h:1")
    with sessions() as session:
        assert store.finish(session, job, {"verdict": "PASSED", "status": "passed"})
        assert requeue_lost(session, TIMEOUT) == []
    assert status(sessions, job)[0] == "done"


@both_stores
def test_a_job_claimed_again_after_it_was_found_lost_is_not_taken_back(sessions) -> None:
    seen(sessions, "h:1", ago_s=TIMEOUT + 5)
    job = running(sessions, "h:1")
    with sessions() as session:
        [lost] = lost_jobs(session, TIMEOUT, time.time())
        assert store.claim(session, job, "h:2/9")  # the redelivered message, on a live worker
        assert not give_back(session, lost)
    assert status(sessions, job) == ("running", "h:2/9")


def test_a_worker_never_seen_counts_from_the_claim(sessions) -> None:
    job = running(sessions, "h:3")
    with sessions() as session:
        assert lost_jobs(session, TIMEOUT, time.time()) == []
        [lost] = lost_jobs(session, TIMEOUT, time.time() + TIMEOUT + 1)
    assert (lost.id, lost.worker) == (job, "h:3")


def test_the_reaper_logs_and_sends_again_what_it_gives_back(sessions, caplog) -> None:
    seen(sessions, "h:1", ago_s=TIMEOUT + 5)
    job = running(sessions, "h:1")
    sent: list[tuple[str, str]] = []
    with caplog.at_level(logging.INFO, logger="grader.events"):
        Reaper(sessions, TIMEOUT, lambda i, q: sent.append((i, q))).sweep()
    assert sent == [(job, "cpu")]
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "requeued"]
    assert record.fields == {"worker": "h:1", "why": "worker heartbeat lost"}


def test_a_heartbeat_renews_its_row_and_removes_it_when_stopped(sessions) -> None:
    name = worker_name("123")
    assert owner(f"{name}/456:gpu0") == name
    heartbeat = Heartbeat(sessions, name, every_s=0.05)
    heartbeat.start()
    with sessions() as session:
        first = session.get_one(Worker, name).last_seen

    def renewed() -> bool:
        with sessions() as session:
            return session.get_one(Worker, name).last_seen > first

    assert wait_until(renewed, 5, poll_s=0.02)
    heartbeat.stop()
    with sessions() as session:
        assert session.get(Worker, name) is None


# -- a whole worker lost, on a real Redis ---------------------------------------------------


@pytest.mark.slow
def test_a_killed_workers_job_is_graded_by_the_survivor_within_a_minute(
    tmp_path: Path, broker: Broker
) -> None:
    """Visibility timeout 10 min: only the heartbeat can bring the job back this soon."""
    bank = write_bank(tmp_path / "bank")
    fleet = Fleet(tmp_path, broker.url, bank, visibility_s=600, worker_timeout_s=5)
    try:
        fleet.dispatcher.start()  # the reaper, as `grader serve --broker` runs it
        workers = [fleet.start_worker("a"), fleet.start_worker("b")]
        job = fleet.submit("slow-echo", source=echo_source(4))

        def holder() -> int | None:
            return next(
                (n for n, w in enumerate(workers) if fleet.running_on(w, "slow-echo")), None
            )

        assert wait_until(lambda: holder() is not None, 60)
        victim = workers.pop(holder() or 0)
        [survivor] = workers
        fleet.kill(victim)
        killed_at = time.monotonic()
        assert fleet.wait_done([job], timeout_s=60), fleet.row(job).status
        recovered_s = time.monotonic() - killed_at
        row = fleet.row(job)
        assert survivor.scope in (row.graded_by or "") and row.attempts == 2
        assert fleet.writes()[job] == 1 and row.report and row.report["status"] == "passed"
        print(f"recovered {recovered_s:.1f} s after the SIGKILL")
        assert recovered_s < 60
    finally:
        fleet.close()
