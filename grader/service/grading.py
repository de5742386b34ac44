"""Grade one stored submission and write its one report: shared by the in-process pool and Celery.

A job may run more than once (a restarted server, a redelivered task); `store.finish` makes only
the first report count. Nothing a submission does, and no grader failure, escapes as an exception:
an infrastructure failure becomes a report with status `error`.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.bank.fingerprint import item_fingerprint
from grader.errors import BadSubmission, GraderError
from grader.grading import Answer, Grader
from grader.grading.code import unscored_report
from grader.grading.submission import source_from_bytes
from grader.models import CodeItem, Item, Report, Status, Verdict
from grader.service import logs, store
from grader.service.db import Submission
from grader.settings import GraderSettings
from sandbox.base import Sandbox
from sandbox.errors import SandboxError

log = logging.getLogger("grader.service")


def queue_for(item: Item) -> str:
    """`gpu` for items that need a GPU (of any kind: `Item.needs_gpu`), `cpu` for the rest."""
    return "gpu" if item.needs_gpu else "cpu"


def grade_stored(bank: Bank, row: Submission, sandbox: Sandbox) -> Report:
    """The report for a stored submission; errors of the grader become a `status: error` report.

    The item graded is the variant the row was stored with (`row.seed`, set at intake and kept by
    every regrade: grader.service.variants); a row without a seed grades an item that does not
    vary. A row without a seed of an item that varies (stored before the item had params) is
    not graded against some variant the student never saw: it fails closed as an `error` report
    (a regrade then keeps the report it had: `store.finish`).
    """
    try:
        item = bank.variant(row.question, row.seed)
        if row.seed is None and item.varies:
            raise GraderError(
                f"{row.question!r} now varies per student and this submission was stored "
                "before it did (no variant seed); it cannot be graded against the question "
                "its student saw"
            )
        return _grade(item, row, bank, sandbox)
    except (GraderError, SandboxError) as exc:
        why = f"the grader could not grade this submission: {exc}"
    except Exception as exc:  # noqa: BLE001 - a worker must survive anything and say what happened
        log.exception("grading %s failed", row.id)
        why = f"internal error while grading ({type(exc).__name__})"
    return Report(
        question=row.question,
        status=Status.ERROR,
        verdict=Verdict.INTERNAL_ERROR,
        score=0.0,
        max_score=0.0,
        duration_s=0.0,
        backend=sandbox.name,
        message=why,
    )


@cache
def _settings() -> GraderSettings:
    """Read once per process: a server or worker keeps the settings it started with."""
    return GraderSettings()


def _grade(item: Item, row: Submission, bank: Bank, sandbox: Sandbox) -> Report:
    answer: Answer = row.choice or ""
    if row.content is not None and row.filename is not None:
        answer = source_from_bytes(row.content, row.filename)
    try:
        return Grader(bank, sandbox, _settings()).grade(item, answer)
    except BadSubmission as exc:
        if isinstance(item, CodeItem):
            return unscored_report(
                item, Status.FAILED, Verdict.RUNTIME_ERROR, str(exc), sandbox.name
            )
        raise


def run_job(
    sessions: sessionmaker[Session], bank: Bank, submission_id: str, sandbox: Sandbox, worker: str
) -> bool:
    """Claim, grade and finish one submission. True if this run wrote its report."""
    with sessions() as session:
        if not store.claim(session, submission_id, worker):
            return False  # already graded: a duplicate delivery of the job
    return grade_claimed(sessions, bank, submission_id, sandbox)


def grade_claimed(
    sessions: sessionmaker[Session], bank: Bank, submission_id: str, sandbox: Sandbox
) -> bool:
    """Grade and finish a submission this worker has claimed. True if its report was written."""
    with sessions() as session:
        row = session.get(Submission, submission_id)
        assert row is not None
    logs.event("claimed", submission_id, worker=row.graded_by, regrade_by=row.regrade_by)
    fingerprint = item_fingerprint(bank, row.question, _settings().solutions)
    report = grade_stored(bank, row, sandbox)
    payload: dict[str, Any] = report.model_dump(mode="json")
    payload["submission"] = submission_id
    with sessions() as session:
        written = store.finish(session, submission_id, payload, fingerprint, row.version)
    logs.event(
        "graded",
        submission_id,
        verdict=report.verdict.value,
        score=f"{report.score:g}/{report.max_score:g}",
        duration_s=round(report.duration_s, 3),
        worker=row.graded_by,
        written=written,
    )
    return written
