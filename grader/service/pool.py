"""The embedded dispatcher: worker threads in the server's own process, each with a sandbox.

Workers find their jobs by polling the store, not through an in-memory queue: a submission
dispatched just before a crash, or left `running` by one (re-queued at start-up), is found the
same way as a new one, so nothing depends on memory that a SIGKILL erases. `dispatch()` only wakes
a worker early. Claims are conditional UPDATEs on `queued` (`store.claim_next`), so two workers
never grade the same submission.

`stop()` is the graceful end (`grader.service.shutdown`): no new claims, the jobs in hand get the
grace period (`shutdown_grace_s`; the `hurry` event ends it early), then every sandbox is stopped,
which kills what still runs in it, and the submissions still held go back to `queued`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.service import store
from grader.service.grading import grade_claimed
from grader.service.settings import ServiceSettings
from grader.service.shutdown import Abandoned, Stoppable, requeue_held
from grader.service.shutdown import log as shutdown_log
from sandbox.backends import open_sandbox as open_backend
from sandbox.base import Sandbox

log = logging.getLogger("grader.service")

SandboxFactory = Callable[[], Sandbox]
#: Seconds the workers of stopped sandboxes get to let go of their jobs.
_LET_GO_S = 5.0


class LocalPool:
    """`settings.workers` grading threads; implements `grader.service.dispatch.Dispatcher`."""

    def __init__(
        self,
        settings: ServiceSettings,
        sessions: sessionmaker[Session],
        bank: Bank,
        *,
        open_sandbox: SandboxFactory | None = None,
        poll_s: float = 1.0,
        hurry: threading.Event | None = None,
    ) -> None:
        """`hurry`, once set, ends a stop's grace period (a second SIGTERM or Ctrl-C)."""
        self.sessions = sessions
        self.bank = bank
        self.size = max(1, settings.workers)
        self.poll_s = poll_s
        self.grace_s = settings.shutdown_grace_s
        self._hurry = hurry or threading.Event()
        grader = settings.grader
        self._open = open_sandbox or (lambda: open_backend(grader.backend, grader.sandbox))
        self._wake = threading.Semaphore(0)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sandboxes: list[Stoppable] = []
        self._names: list[str] = []
        #: worker name -> the submission it is grading now
        self._held: dict[str, str] = {}

    def start(self) -> None:
        """Open every worker's sandbox first, so a host that cannot grade fails at start-up."""
        for _ in range(self.size):  # one at a time: `stop()` closes those already open
            self._sandboxes.append(Stoppable(self._open()))
        prefix = f"{socket.gethostname()}:{os.getpid()}"
        for index, sandbox in enumerate(self._sandboxes):
            name = f"{prefix}:w{index}"
            self._names.append(name)
            thread = threading.Thread(
                target=self._work, args=(sandbox, name), name=f"grader-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def dispatch(self, submission_id: str, queue: str) -> None:
        """The submission is already committed as queued: wake one idle worker to look."""
        self._wake.release()

    def stop(self, timeout_s: float | None = None) -> None:
        """Take no more jobs; let those in hand finish for up to `timeout_s` (the
        `shutdown_grace_s` setting); then stop every sandbox, killing what still runs in it,
        and put the submissions still held back to `queued`."""
        grace = self.grace_s if timeout_s is None else timeout_s
        self._stopping.set()
        self._wake.release(len(self._threads) or 1)
        if held := sorted(dict(self._held).values()):
            shutdown_log.info(
                "waiting up to %g s for %d running job(s): %s", grace, len(held), ", ".join(held)
            )
        if self._join(grace, hurry=True):
            shutdown_log.info(
                "grace period over: stopping the sandboxes of %d job(s) still running",
                len(self._held),
            )
        for sandbox in self._sandboxes:
            sandbox.stop()
        if self._sandboxes:
            shutdown_log.info(
                "stopped %d sandbox(es) and every process they started", len(self._sandboxes)
            )
        self._sandboxes = []
        stuck = self._join(_LET_GO_S, hurry=False)
        if stuck:
            shutdown_log.warning("%d worker(s) did not let go of their job", len(stuck))
        self._requeue()

    def _join(self, timeout_s: float, hurry: bool) -> list[threading.Thread]:
        """Wait for the workers to end (until `hurry` is set, if `hurry`); those still alive."""
        deadline = time.monotonic() + timeout_s
        while alive := [thread for thread in self._threads if thread.is_alive()]:
            left = deadline - time.monotonic()
            if left <= 0 or (hurry and self._hurry.is_set()):
                break
            if hurry:  # a wait a signal handler can end: it runs in this (the main) thread
                self._hurry.wait(min(left, 0.05))
            else:
                alive[0].join(left)
        return alive

    def _requeue(self) -> None:
        if not self._names:
            return
        try:
            with self.sessions() as session:
                ids = requeue_held(session, self._names)
        except SQLAlchemyError:
            shutdown_log.exception("cannot re-queue; the next start re-queues what is running")
            return
        if ids:
            shutdown_log.info("re-queued %d unfinished submission(s): %s", len(ids), ", ".join(ids))

    def _work(self, sandbox: Sandbox, name: str) -> None:
        try:
            while not self._stopping.is_set():
                if not self._grade_next(sandbox, name):
                    self._wake.acquire(timeout=self.poll_s)
        except Abandoned:
            pass  # the pool stopped this worker's sandbox mid-job; `stop()` re-queues it

    def _grade_next(self, sandbox: Sandbox, name: str) -> bool:
        """Claim and grade one submission; False when there was none (or the store failed)."""
        try:
            with self.sessions() as session:
                submission_id = store.claim_next(session, name)
            if submission_id is None:
                return False
            self._held[name] = submission_id
            try:
                grade_claimed(self.sessions, self.bank, submission_id, sandbox)
            except Abandoned:
                shutdown_log.info("worker %s: grading of %s cut short", name, submission_id)
                raise
            finally:
                self._held.pop(name, None)
        except SQLAlchemyError:
            # The store is down or locked: the job (if claimed) stays `running` for the next
            # start to re-queue; this worker waits a poll and tries again.
            log.exception("worker %s: store error", name)
            return False
        return True
