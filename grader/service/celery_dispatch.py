"""`grader serve --broker URL`: submissions go to Celery workers instead of the in-process pool.

The server commits a submission, then sends its id to the submission's queue (`cpu` or `gpu`).
A server that dies between the two leaves a queued submission that no message names; `start()`
therefore sends every unfinished submission again. Duplicates are harmless: `store.claim` refuses
a finished submission and `store.finish` keeps the first report only.

A worker whose whole host is lost holds its jobs until the broker's visibility timeout (minutes);
the dispatcher's `Reaper` gives them back as soon as the worker's heartbeat has stopped for
`worker_timeout_s` (`grader.service.heartbeats`).

Jobs reach the workers in the order they arrived: the in-process pool's turns across students
(`store.next_queued`) do not apply here, and the cap on a student's work in flight
(`student_inflight`, checked as the row is stored) is the only fairness between students.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import BadInput
from grader.service.celery_app import QUEUES, TASK_NAME, make_app
from grader.service.db import Submission
from grader.service.heartbeats import Reaper
from grader.service.settings import ServiceSettings

log = logging.getLogger("grader.service")


class CeleryDispatcher:
    """The Dispatcher for a fleet of `grader worker` hosts behind one broker."""

    def __init__(self, settings: ServiceSettings, sessions: sessionmaker[Session]) -> None:
        if not settings.broker_url:
            raise BadInput("the Celery dispatcher needs --broker URL (or GRADER_BROKER_URL)")
        self.sessions = sessions
        self.app = make_app(settings.broker_url)
        self.reaper = Reaper(sessions, settings.worker_timeout_s, self.dispatch)

    def dispatch(self, submission_id: str, queue: str) -> None:
        """Send one job to its queue; a message carries the submission id and nothing else."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}; expected one of {', '.join(QUEUES)}")
        self.app.send_task(TASK_NAME, args=[submission_id], queue=queue, routing_key=queue)

    def start(self) -> None:
        """Send again every submission left unfinished by an earlier server; start the reaper."""
        with self.sessions() as session:
            rows = session.execute(
                select(Submission.id, Submission.queue)
                .where(Submission.status != "done")
                .order_by(Submission.created_at)
            ).all()
        for submission_id, queue in rows:
            self.dispatch(submission_id, queue)
        if rows:
            log.info("re-sent %d unfinished submission(s) to the workers", len(rows))
        self.reaper.start()

    def stop(self) -> None:
        """Stop the reaper; close the broker connections this server holds."""
        self.reaper.stop()
        self.app.close()
