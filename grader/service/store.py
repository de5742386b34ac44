"""The store's operations that more than one part relies on: create, claim, finish, re-queue.

Every state change is one conditional UPDATE, so two workers racing on a submission (a redelivered
Celery task, a restarted server) cannot both write a report: the first `finish` wins, the second
changes nothing and returns False.

Claims are queue work on PostgreSQL too, with several servers on one database: `claim_next` picks
the next submission (students in turns), then claims it with `UPDATE ... WHERE status = 'queued'`.
A second server claiming the same row waits for the first one's row lock and, the row no longer
`queued`, changes nothing and picks again: the conditional UPDATE does what `FOR UPDATE SKIP
LOCKED` would, and keeps the turn order, which is an aggregate over students that `FOR UPDATE`
cannot lock. A transaction PostgreSQL gives up for another's sake (a serialization failure under
SERIALIZABLE, a deadlock) runs again (`rerun`). tests/service/test_store.py proves each promise
on both stores, with processes claiming at once.

Attempts at an item of an assignment are counted by the store itself: each submission takes the
next attempt number, and the unique (student, assignment, question, attempt) constraint lets only
one of two racing requests commit a number; the other counts again. No lock, no SELECT ... FOR
UPDATE: the same code is atomic on SQLite and PostgreSQL.

Fair grading (the in-process pool): a student may have `student_inflight` submissions queued or
being graded at once (`in_flight`; regrades are not their doing and never count), and workers
claim in turns across students (`next_queued`), so one student's backlog delays another's first
submission by at most the job a worker has in hand.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grader.service.db import Delivery, LmsClient, ReportVersion, Submission, now
from grader.service.errors import AttemptsUsedUp, Refused, StudentBusy

log = logging.getLogger("grader.service")
T = TypeVar("T")

#: Tries at taking the next attempt number: a try fails only when another submission of the same
#: student and item committed in between, so only a flood of them gets this far.
ATTEMPT_TRIES = 20
#: PostgreSQL's codes for a transaction that lost a race and may simply run again: a serialization
#: failure (how a server whose transactions are SERIALIZABLE reports two inserts of one attempt
#: number) and a deadlock. SQLite and PostgreSQL's default, READ COMMITTED, raise a unique
#: violation (IntegrityError) instead.
RETRY_SQLSTATES = frozenset({"40001", "40P01"})


def new_id(prefix: str) -> str:
    """An unguessable id: 128 random bits, URL-safe."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


@dataclass(frozen=True)
class NewSubmission:
    question: str
    student: str
    queue: str = "cpu"
    course: str | None = None
    filename: str | None = None
    content: bytes | None = None
    choice: str | None = None
    client_id: int | None = None
    external_id: str | None = None
    callback_url: str | None = None
    assignment: str | None = None
    late_penalty: float | None = None
    #: The variant's seed given the attempt number, for an item that varies (set at intake by
    #: grader.service.variants; the attempt is known only here, as the row is written).
    seeding: Callable[[int | None], int | None] | None = None


def add_submission(
    session: Session, new: NewSubmission, limit: int | None = None, cap: int | None = None
) -> Submission:
    """A queued submission (not committed: the caller commits it with whatever goes with it).

    Inside an assignment it takes the student's next attempt number at the item, or raises
    `AttemptsUsedUp` when `limit` are taken. A request racing this one may take the same number;
    then one commit fails with IntegrityError and its caller tries again (`add_counted`).

    With `cap`, it raises `StudentBusy` when the student already has `cap` submissions in flight.
    The count is taken after the row is written, inside its transaction: on SQLite, which lets
    one writer at a time, that is exact; on PostgreSQL requests that write at the same moment do
    not see each other's rows, so a burst can exceed the cap by up to the requests in the burst.
    """
    attempt = None
    if new.assignment is not None:
        used = attempts_used(session, new.student, new.assignment, new.question)
        if limit is not None and used >= limit:
            raise AttemptsUsedUp(used, limit)
        attempt = used + 1
    fields = dict(new.__dict__)
    seeding = fields.pop("seeding")
    seed = seeding(attempt) if seeding is not None else None
    row = Submission(
        id=new_id("sub"), status="queued", attempts=0, attempt=attempt, seed=seed, **fields
    )
    session.add(row)
    if cap is not None:
        session.flush()
        busy = in_flight(session, new.student, new.course) - 1  # without this one
        if busy >= cap:
            raise StudentBusy(busy)
    return row


def in_flight(session: Session, student: str, course: str | None) -> int:
    """The student's submissions queued or being graded, regrades aside: what the cap counts."""
    whose = Submission.course == course if course else func.coalesce(Submission.course, "") == ""
    count = session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.student == student,
            whose,
            Submission.status != "done",
            Submission.regrade_by.is_(None),
        )
    )
    return int(count or 0)


def attempts_used(session: Session, student: str, assignment: str, question: str) -> int:
    """The highest attempt number taken: the count, as numbers are taken 1, 2, ... in turn."""
    used = session.scalar(
        select(func.max(Submission.attempt)).where(
            Submission.student == student,
            Submission.assignment == assignment,
            Submission.question == question,
        )
    )
    return int(used or 0)


def add_counted(
    sessions: sessionmaker[Session], new: NewSubmission, limit: int | None, cap: int | None = None
) -> Submission:
    """Store and commit a submission, counting its attempt atomically: a try that lost the race
    for an attempt number counts again, so ten requests at once never exceed a limit of three.
    `StudentBusy` when the student has `cap` submissions in flight (`add_submission`)."""
    for _ in range(ATTEMPT_TRIES):
        with sessions() as session:
            try:
                row = add_submission(session, new, limit, cap)
                session.commit()
                return row
            except DBAPIError as exc:
                session.rollback()
                if not lost_race(exc):
                    raise
    raise Refused(409, "too many submissions of this item at once; send it again")


def lost_race(exc: DBAPIError) -> bool:
    """Whether `exc` says another transaction took the attempt number first: a unique violation,
    or a transaction to run again (`must_rerun`)."""
    return isinstance(exc, IntegrityError) or must_rerun(exc)


def must_rerun(exc: DBAPIError) -> bool:
    """Whether PostgreSQL gave up this transaction for another's sake (`RETRY_SQLSTATES`): run
    again, it re-reads what the other one committed."""
    return getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES  # sqlite3's errors have none


def rerun(session: Session, work: Callable[[], T]) -> T:
    """`work()`, which ends in a commit, run again after a rollback each time PostgreSQL gives it
    up for another transaction's sake (`must_rerun`; a server whose transactions are SERIALIZABLE
    does so where READ COMMITTED, its default, waits and re-reads). Each run re-checks its
    conditions on what was committed meanwhile, so the outcome is the one a wait would give."""
    for _ in range(ATTEMPT_TRIES - 1):
        try:
            return work()
        except DBAPIError as exc:
            session.rollback()
            if not must_rerun(exc):
                raise
    return work()


def claim(session: Session, submission_id: str, worker: str) -> bool:
    """Mark a queued (or orphaned running) submission as running on `worker`; False if done."""
    return _mark_running(session, submission_id, worker, Submission.status != "done")


def _mark_running(
    session: Session, submission_id: str, worker: str, condition: ColumnElement[bool]
) -> bool:
    """One conditional UPDATE to `running` (another attempt, by `worker`); True if it applied.

    Two claims of one row at once: on SQLite one waits for the other's commit; on PostgreSQL the
    second UPDATE waits for the first's row lock, then re-checks `condition` on the committed row
    and changes nothing (READ COMMITTED), or is given up and run again (`rerun`). Either way
    exactly one claim applies, and the loser moves on."""
    claimed = (
        update(Submission)
        .where(Submission.id == submission_id, condition)
        .values(
            status="running",
            started_at=now(),
            attempts=Submission.attempts + 1,
            graded_by=worker,
        )
    )

    def once() -> bool:
        result = session.execute(claimed)
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return rerun(session, once)


def next_queued(session: Session) -> str | None:
    """The submission the in-process pool grades next: students take turns.

    Whose turn: of the students (a student id in a course) with a first grading queued, the one
    served least recently (the latest `started_at` of any of their submissions; never: first),
    then the one whose oldest queued submission is oldest; their oldest queued is next. Once
    claimed, a student's stamp is the newest, so they go behind everyone else waiting: between
    a student's submission arriving and its claim, each other student is claimed at most once,
    and a lone student against one flooding student waits only for the job a worker has in hand.

    Regrades (`regrade_by` set) come after every first grading: an instructor's regrade of a
    whole course never holds up a student's new work.
    """
    first = (Submission.status == "queued", Submission.regrade_by.is_(None))
    waiting = select(Submission.student).where(*first)
    oldest = func.min(case((and_(*first), Submission.created_at)))
    turn = (
        select(Submission.student, Submission.course)
        .where(Submission.student.in_(waiting))
        .group_by(Submission.student, Submission.course)
        .having(oldest.is_not(None))
        .order_by(func.coalesce(func.max(Submission.started_at), 0.0), oldest)
        .limit(1)
        .subquery()
    )
    mine = and_(
        Submission.student == turn.c.student,
        Submission.course.is_not_distinct_from(turn.c.course),
    )
    theirs = select(Submission.id).join(turn, mine).where(*first)
    chosen = session.scalar(theirs.order_by(Submission.created_at).limit(1))
    return chosen or session.scalar(
        select(Submission.id)
        .where(Submission.status == "queued")
        .order_by(Submission.created_at)
        .limit(1)
    )


def claim_next(session: Session, worker: str) -> str | None:
    """Claim the next queued submission (`next_queued`) for `worker` (the in-process pool); None
    if none.

    Unlike `claim`, this takes only `queued` rows, so two pollers never grade the same one.
    """
    while (submission_id := next_queued(session)) is not None:
        if _mark_running(session, submission_id, worker, Submission.status == "queued"):
            return submission_id
    return None


def finish(
    session: Session,
    submission_id: str,
    report: dict[str, Any],
    fingerprint: str | None = None,
    version: int | None = None,
) -> bool:
    """Write a grading's report as the submission's next version, and owe its callback, in one
    transaction.

    True for the write that won; False when the submission was not waiting for one (the report
    is dropped, and only `gradings` counts the duplicated work, for the load script's "graded
    twice"). With `version` (the submission's version when its grading began), a grading that
    began before another report was written is dropped too: a duplicate grading left over from
    before a regrade never stands in for the regrade. A regrade keeps an instructor's override:
    the score that counts stays theirs. A regrade the grader could not complete (an `error`
    report) keeps the report it had, and its fingerprint: the item still counts as changed, so
    the next regrade tries it again. Racing writes of one submission: the first to commit wins
    (`rerun`: a write PostgreSQL gives up runs again and finds it done).
    """
    return rerun(
        session, lambda: _finish_once(session, submission_id, report, fingerprint, version)
    )


def _finish_once(
    session: Session,
    submission_id: str,
    report: dict[str, Any],
    fingerprint: str | None,
    version: int | None,
) -> bool:
    """One try at `finish`, in one transaction."""
    row = session.get(Submission, submission_id)
    previous = row.report if row is not None else None
    failed_regrade = previous is not None and report.get("status") == "error"
    values: dict[str, Any] = {"status": "done", "gradings": Submission.gradings + 1}
    values["regrade_by"] = None
    if not failed_regrade:
        report = _keep_override(report, previous)
        values |= {
            "report": report,
            "verdict": report["verdict"],
            "finished_at": now(),
            "version": Submission.version + 1,
            "fingerprint": fingerprint,
        }
    waiting = [Submission.id == submission_id, Submission.status != "done"]
    waiting += [Submission.version == version] if version is not None else []
    result = session.execute(
        update(Submission)
        .where(*waiting)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(gradings=Submission.gradings + 1)
        )
        session.commit()
        return False
    assert row is not None
    by = row.regrade_by
    session.refresh(row)
    if failed_regrade:
        log.warning("regrade of %s failed (%s); its report stays", row.id, report.get("message"))
    else:
        change = "graded" if row.version == 1 else "regrade"
        record_version(session, row, change, by or "grader")
    session.commit()
    return True


def _keep_override(report: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """`report`, with the previous report's override (if any) still deciding the score."""
    override = (previous or {}).get("override")
    if not override:
        return report
    kept = dict(override, graded_score=report["score"])
    return report | {"score": min(kept["score"], report["max_score"]), "override": kept}


def record_version(
    session: Session, row: Submission, change: str, by: str, reason: str | None = None
) -> None:
    """Keep `row`'s current report as its version `row.version`, and owe its callback."""
    assert row.report is not None
    session.add(
        ReportVersion(
            submission_id=row.id,
            version=row.version,
            change=change,
            by=by,
            reason=reason,
            report=row.report,
        )
    )
    owe_callback(session, row)


def owe_callback(session: Session, row: Submission) -> None:
    """For an LMS submission: its delivery now owes the current version (a new `webhook-id`,
    attempts from 0), so a version still pending is replaced by the newer, never sent after it.
    A submission made through an LTI launch owes its line item the score instead (lti/outbox)."""
    if not row.callback_url or row.client_id is None:
        from grader.lti.outbox import owe_score

        owe_score(session, row, new_id("msg"))
        return
    client = session.get(LmsClient, row.client_id)
    if client is None or client.deleted_at is not None:
        return  # a deleted client is owed nothing: its deliveries were failed as it went
    fresh = {
        "url": row.callback_url,
        "webhook_id": new_id("msg"),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now(),
        "last_status": None,
        "last_error": None,
        "delivered_at": None,
        "version": row.version,
    }
    # One UPDATE of every field, not an ORM load-and-set: an attempt in flight that records
    # "delivered" meanwhile must not leave its state on the newer version's row.
    rearmed = session.execute(
        update(Delivery).where(Delivery.submission_id == row.id).values(**fresh)
    )
    if not rearmed.rowcount:  # type: ignore[attr-defined]
        session.add(Delivery(submission_id=row.id, client_id=row.client_id, **fresh))


def requeue_running(session: Session) -> int:
    """After a crash: submissions left `running` go back to `queued`. Returns how many."""
    result = session.execute(
        update(Submission).where(Submission.status == "running").values(status="queued")
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Submission.status, func.count()).group_by(Submission.status))
    return {status: int(count) for status, count in rows}
