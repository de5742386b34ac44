"""The embedded dispatcher: worker threads in the server's own process, each with a sandbox.

Workers find their jobs by polling the store, not through an in-memory queue: a submission
dispatched just before a crash, or left `running` by one (re-queued at start-up), is found the
same way as a new one, so nothing depends on memory that a SIGKILL erases. `dispatch()` only wakes
a worker early. Claims are conditional UPDATEs on `queued` (`store.claim_next`), so two workers
never grade the same submission.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.service import store
from grader.service.grading import grade_claimed
from grader.service.settings import ServiceSettings
from sandbox.backends import open_sandbox as open_backend
from sandbox.base import Sandbox

log = logging.getLogger("grader.service")

SandboxFactory = Callable[[], Sandbox]


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
    ) -> None:
        self.sessions = sessions
        self.bank = bank
        self.size = max(1, settings.workers)
        self.poll_s = poll_s
        grader = settings.grader
        self._open = open_sandbox or (lambda: open_backend(grader.backend, grader.sandbox))
        self._wake = threading.Semaphore(0)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sandboxes: list[Sandbox] = []

    def start(self) -> None:
        """Open every worker's sandbox first, so a host that cannot grade fails at start-up."""
        self._sandboxes = [self._open() for _ in range(self.size)]
        prefix = f"{socket.gethostname()}:{os.getpid()}"
        for index, sandbox in enumerate(self._sandboxes):
            name = f"{prefix}:w{index}"
            thread = threading.Thread(
                target=self._work, args=(sandbox, name), name=f"grader-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def dispatch(self, submission_id: str, queue: str) -> None:
        """The submission is already committed as queued: wake one idle worker to look."""
        self._wake.release()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let workers finish the job in hand for up to `timeout_s`; one still grading after that
        dies with the process and its submission, left `running`, is re-queued at the next start.
        """
        self._stopping.set()
        self._wake.release(len(self._threads) or 1)
        for thread in self._threads:
            thread.join(timeout_s / max(1, len(self._threads)))
        for thread, sandbox in zip(self._threads, self._sandboxes, strict=True):
            if not thread.is_alive():  # a sandbox still in use is left to the process's exit
                sandbox.close()

    def _work(self, sandbox: Sandbox, name: str) -> None:
        while not self._stopping.is_set():
            if not self._grade_next(sandbox, name):
                self._wake.acquire(timeout=self.poll_s)

    def _grade_next(self, sandbox: Sandbox, name: str) -> bool:
        """Claim and grade one submission; False when there was none (or the store failed)."""
        try:
            with self.sessions() as session:
                submission_id = store.claim_next(session, name)
            if submission_id is None:
                return False
            grade_claimed(self.sessions, self.bank, submission_id, sandbox)
        except SQLAlchemyError:
            # The store is down or locked: the job (if claimed) stays `running` for the next
            # start to re-queue; this worker waits a poll and tries again.
            log.exception("worker %s: store error", name)
            return False
        return True
