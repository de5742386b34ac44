"""A dispatcher for in-process course servers: grades each submission at once, in the request's
thread, with a fake sandbox (a read right after a submit sees the report)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.service import grading
from sandbox.fake import FakeSandbox, result


class InlineGrading:
    """Grades at once what it is given to dispatch."""

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
