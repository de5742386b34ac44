"""An instructor's changes to graded work: overrides and regrades, each a new report version.

Nothing is ever overwritten: each change adds a `ReportVersion` (who, when, why, the whole
report), the submission's `report` becomes the newest, the student reads that, and an LMS
submission's callback owes it (`store.record_version`).

A regrade sends graded submissions back to the queue; the grading that follows writes the next
version (`store.finish`). A submission whose item has not changed since it was graded (the same
fingerprint: the item's file, data and reference solution) is skipped unless forced, and one
already waiting for a grading is not queued twice, so asking twice grades nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.models import Verdict
from grader.service import logs, store
from grader.service.db import ReportVersion, Submission
from grader.service.errors import Refused

Fingerprint = Callable[[str], str | None]


def history(session: Session, submission_id: str) -> list[ReportVersion]:
    """Every version of a submission's report, oldest first."""
    query = select(ReportVersion).where(ReportVersion.submission_id == submission_id)
    return list(session.scalars(query.order_by(ReportVersion.version)))


def override(session: Session, row: Submission, score: float, reason: str, by: str) -> Submission:
    """Set the score that counts for `row` (in its report's points), with a reason; audited.

    409 while the submission is not graded (or a regrade is under way); 422 for a score off the
    report's scale or no reason. The verdict stays the grader's: statistics measure the item.
    """
    if row.status != "done" or row.report is None:
        raise Refused(409, f"submission {row.id} is not graded yet; override it once it is")
    top = float(row.report["max_score"])
    if not 0 <= score <= top:
        raise BadInput(f"score: must be between 0 and {top:g}, this report's points")
    if not reason.strip():
        raise BadInput("reason: say why the score changes; the student reads it")
    graded = (row.report.get("override") or {}).get("graded_score", row.report["score"])
    report = row.report | {
        "score": score,
        "override": {"score": score, "graded_score": graded, "reason": reason.strip()},
    }
    result = session.execute(
        update(Submission)
        .where(
            Submission.id == row.id,
            Submission.status == "done",
            Submission.version == row.version,
        )
        .values(report=report, version=row.version + 1)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(409, f"submission {row.id} changed meanwhile; read it again and retry")
    session.refresh(row)
    store.record_version(session, row, "override", by, reason.strip())
    session.commit()
    return row


@dataclass
class RegradeCount:
    """What a regrade request did: sent back to the queue, skipped as unchanged, already waiting."""

    queued: list[str] = field(default_factory=list)
    unchanged: int = 0
    pending: int = 0


def request_regrade(
    session: Session, rows: list[Submission], fingerprint: Fingerprint, by: str, force: bool
) -> RegradeCount:
    """Queue each of `rows` whose item changed since it was graded (all of them when forced)."""
    count = RegradeCount()
    current: dict[str, str | None] = {}
    for row in rows:
        if row.status != "done":
            count.pending += 1
            continue
        if row.question not in current:
            current[row.question] = fingerprint(row.question)
        now_print = current[row.question]
        failed = row.verdict == Verdict.INTERNAL_ERROR.value  # the grader's failure: always again
        if not (force or failed) and now_print is not None and row.fingerprint == now_print:
            count.unchanged += 1
            continue
        if _requeue(session, row, by):
            count.queued.append(row.id)
            logs.event("regrade", row.id, by=by, forced=force or None)
        else:
            count.pending += 1
    session.commit()
    return count


def _requeue(session: Session, row: Submission, by: str) -> bool:
    """Back to `queued` for a regrade by `by`, if it is still graded as it was read (one
    conditional UPDATE): a regrade asked for at the same moment, or one that already wrote its
    report, wins, and this one queues nothing."""
    result = session.execute(
        update(Submission)
        .where(
            Submission.id == row.id,
            Submission.status == "done",
            Submission.version == row.version,
        )
        .values(status="queued", regrade_by=by)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
