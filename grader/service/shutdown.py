"""What a stopping course server needs: sandboxes it can stop mid-job, and the jobs to put back.

On SIGTERM or SIGINT the server stops taking requests, then its pool (`LocalPool.stop`) lets the
jobs in hand run for `shutdown_grace_s`, stops the sandboxes of those still running (every
process they started is killed), and puts their submissions back to `queued`: the next start
grades them, once. A job cut short writes no report: its worker's sandbox raises `Abandoned`,
which no handler of grading errors catches, so neither a made-up verdict nor an `error` report
stands for a program that was killed by the shutdown rather than by its limits.

Each step is logged on `log` (`grader.service.shutdown`), which `grader serve` shows on stderr
(grader/service/logs.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.service.db import Submission
from sandbox.base import RunRequest, RunResult, Sandbox

log = logging.getLogger("grader.service.shutdown")


class Abandoned(BaseException):  # noqa: N818 - a stop, not an error, as KeyboardInterrupt
    """Raised in a worker whose sandbox was stopped mid-job, so that no report is written.

    A `BaseException`, like `KeyboardInterrupt`: grading turns every `Exception` into a report
    (a worker must survive anything a submission does), and this must reach the pool instead.
    """


class Stoppable:
    """A worker's sandbox that its pool can stop while the worker is inside `run()`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.name = sandbox.name
        self._stopped = threading.Event()

    def run(self, request: RunRequest) -> RunResult:
        """The sandbox's result; `Abandoned` once `stop()` was called, before or during it."""
        if self._stopped.is_set():
            raise Abandoned("the server is stopping")
        try:
            result = self.sandbox.run(request)
        except Exception as exc:
            if self._stopped.is_set():
                raise Abandoned("the server stopped the sandbox mid-run") from exc
            raise
        if self._stopped.is_set():  # killed under it: the result says nothing of the program
            raise Abandoned("the server stopped the sandbox mid-run")
        return result

    def stop(self) -> None:
        """Abandon the run in flight and every later one, and close the sandbox (which kills
        every process it started); from any thread."""
        self._stopped.set()
        self.sandbox.close()

    def close(self) -> None:
        self.sandbox.close()


def requeue_held(session: Session, workers: Collection[str]) -> list[str]:
    """Put back to `queued` the submissions `workers` still hold as `running` (a stopping pool's
    own: not another server's on the same store). Their ids."""
    held = Submission.status == "running", Submission.graded_by.in_(list(workers))
    ids = list(session.scalars(select(Submission.id).where(*held)))
    if ids:
        session.execute(
            update(Submission)
            .where(Submission.id.in_(ids), *held)
            .values(status="queued")
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return ids
