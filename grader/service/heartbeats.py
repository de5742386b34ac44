"""Worker heartbeats, and the reaper that gives a lost worker's jobs back to the queue.

Each `grader worker` main process renews its row in `workers` every few seconds (`Heartbeat`).
Its pool processes write `<worker>/<pid>[:gpuN]` into `graded_by`, so the part before the `/` names
the worker whose heartbeat vouches for a running job. The course server's `Reaper` (run by the
Celery dispatcher) puts back to `queued`, and sends again, every `running` submission whose worker
has not been seen for `worker_timeout_s`, or, with no row at all, that has run that long. Without
it, a job held by a whole lost host waits for the broker's visibility timeout (minutes).

One conditional UPDATE per job (still running, same worker, same start): a job another worker
claimed meanwhile is never taken back. If the lost worker was only slow, or its message is later
handed out again, the job is graded twice and reported once (`store.claim`, `store.finish`).
Heartbeats carry the worker's clock and the reaper reads the server's: hosts keep time (NTP).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from grader.service import logs
from grader.service.db import Submission, Worker, now

log = logging.getLogger("grader.service")

#: The longest pause between two heartbeats, or two sweeps of the reaper.
BEAT_S = 5.0


def worker_name(scope: str) -> str:
    """A worker's name, `host:scope` (its main pid): the head of its processes' `graded_by`."""
    return f"{socket.gethostname()}:{scope}"


def owner(graded_by: str | None) -> str | None:
    """The worker a `graded_by` names: `host:123/456:gpu0` -> `host:123`."""
    return graded_by.split("/", 1)[0] if graded_by else None


def interval(timeout_s: float) -> float:
    """How often to beat (or sweep): a few times per timeout, at most every `BEAT_S`."""
    return min(BEAT_S, timeout_s / 3)


def beat(session: Session, name: str, pid: int, started_at: float) -> None:
    """Write that worker `name` is alive now."""
    seen = session.execute(update(Worker).where(Worker.name == name).values(last_seen=now()))
    if not seen.rowcount:  # type: ignore[attr-defined]
        host = name.rsplit(":", 1)[0]
        session.add(Worker(name=name, host=host, pid=pid, started_at=started_at, last_seen=now()))
    session.commit()


def forget(session: Session, name: str) -> None:
    """A worker that stopped cleanly leaves no row behind."""
    session.execute(delete(Worker).where(Worker.name == name))
    session.commit()


@dataclass(frozen=True)
class LostJob:
    """A running submission whose worker's heartbeat stopped."""

    id: str
    queue: str
    worker: str | None
    graded_by: str | None
    started_at: float | None


def lost_jobs(session: Session, timeout_s: float, at: float) -> list[LostJob]:
    """The running submissions whose worker was last seen (or, never seen, claimed them) more
    than `timeout_s` before `at`."""
    seen: dict[str, float] = dict(session.execute(select(Worker.name, Worker.last_seen)).all())
    running = select(
        Submission.id, Submission.queue, Submission.graded_by, Submission.started_at
    ).where(Submission.status == "running")
    lost = []
    for submission_id, queue, graded_by, started_at in session.execute(running).all():
        worker = owner(graded_by)
        last = seen.get(worker or "", started_at)
        if last is None or at - last > timeout_s:
            lost.append(LostJob(submission_id, queue, worker, graded_by, started_at))
    return lost


def give_back(session: Session, job: LostJob) -> bool:
    """Put `job` back to `queued` unless it changed since it was found lost; True if it was."""
    result = session.execute(
        update(Submission)
        .where(
            Submission.id == job.id,
            Submission.status == "running",
            _same(Submission.graded_by, job.graded_by),
            _same(Submission.started_at, job.started_at),
        )
        .values(status="queued")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _same(column: InstrumentedAttribute[Any], value: object) -> ColumnElement[bool]:
    """`column = value`, or `column IS NULL` for None."""
    return column.is_(None) if value is None else column == value


def requeue_lost(session: Session, timeout_s: float, at: float | None = None) -> list[LostJob]:
    """Give back every job lost as of `at` (default: now); the ones given back."""
    found = lost_jobs(session, timeout_s, now() if at is None else at)
    return [job for job in found if give_back(session, job)]


class Heartbeat:
    """A daemon thread renewing one worker's row until `stop()`."""

    def __init__(self, sessions: sessionmaker[Session], name: str, every_s: float) -> None:
        self.sessions, self.name, self.every_s = sessions, name, every_s
        self.started_at = now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._beat()  # the row exists before the worker takes its first job
        # Pool processes forked from this one must never use (or close) its connections.
        os.register_at_fork(after_in_child=self._forget_connections)
        self._thread.start()

    def _forget_connections(self) -> None:
        engine = self.sessions.kw.get("bind")
        if engine is not None:
            engine.dispose(close=False)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._beat()

    def _beat(self) -> None:
        try:
            with self.sessions() as session:
                beat(session, self.name, os.getpid(), self.started_at)
        except SQLAlchemyError as exc:  # the store is away: try again at the next beat
            log.warning("heartbeat of %s not written: %s", self.name, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        try:
            with self.sessions() as session:
                forget(session, self.name)
        except SQLAlchemyError as exc:
            log.warning("heartbeat of %s not removed: %s", self.name, exc)


class Reaper:
    """A daemon thread of the course server: every few seconds, jobs of lost workers go back to
    the queue and `send(id, queue)` hands them out again."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        timeout_s: float,
        send: Callable[[str, str], None],
    ) -> None:
        self.sessions, self.timeout_s, self.send = sessions, timeout_s, send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)

    def sweep(self) -> list[LostJob]:
        """One pass: the jobs given back."""
        with self.sessions() as session:
            given = requeue_lost(session, self.timeout_s)
        for job in given:
            logs.event("requeued", job.id, worker=job.worker, why="worker heartbeat lost")
            self.send(job.id, job.queue)
        return given

    def _run(self) -> None:
        while not self._stop.wait(interval(self.timeout_s)):
            try:
                self.sweep()
            except Exception:  # whatever failed (store, broker), the next sweep tries again
                log.exception("reaper sweep failed; trying again")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
