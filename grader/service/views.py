"""What a student sees of a graded submission: every report that leaves the server goes through
`shown` first (`GET /v1/submissions/{id}`, so `grader submit`, and the LMS callback body).

The store keeps the whole report, for instructors. In practice mode (no assignment) the student
sees all of it, as before. Inside an assignment the score is scaled to the assignment's points
after the late penalty, and the report is cut to the level the assignment's reveal rule allows for
the item's kind, given the student's history at the item and whether the due date has passed at
the time of the read (or of the callback): a key hidden yesterday may be shown today.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from grader.bank import Bank
from grader.courses import rules
from grader.courses.catalog import Catalog
from grader.models import Report, Verdict
from grader.models.assignment import AssignmentItem, Level
from grader.service.db import Submission, Token


def owned_by(token: Token) -> list[ColumnElement[bool]]:
    """The conditions of a student's own submissions: their id in their course (a student id is
    the course's, or an LMS's: another course's `alice` is someone else)."""
    course = Submission.course == token.course if token.course else Submission.course.is_(None)
    return [Submission.student == token.student, course]


def owns(token: Token, row: Submission) -> bool:
    """Whether `row` is one of the token's student's own submissions (as `owned_by` selects)."""
    return row.student == token.student and (row.course or None) == (token.course or None)


def utc_now() -> datetime:
    """The service's clock, unless a test gives it another."""
    return datetime.now(UTC)


class Courses(Protocol):
    """What applying an assignment's rules needs: the items' kinds, the assignments, the time.
    `ServiceState` is one; the delivery sender reads the running server's."""

    @property
    def bank(self) -> Bank: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True)
class Shown:
    """A report as a student may see it now, and the assignment facts that shaped it."""

    report: dict[str, Any] | None
    assignment: str | None = None
    attempt: int | None = None
    late_penalty: float | None = None
    revealed: str | None = None  # a Level's name, lower-case; None in practice mode


def shown(courses: Courses, session: Session, row: Submission) -> Shown:
    """The student's view of `row` at `courses.clock()`."""
    if row.assignment is None or row.report is None:
        return fallback(row)
    assignment = courses.catalog.assignments.get(row.assignment)
    entry = assignment.entry(row.question) if assignment is not None else None
    if assignment is None or entry is None:
        return fallback(row)  # the assignment changed under the submission: show the least
    kind = kind_of(courses.bank, row.question)
    level = rules.level_now(
        courses.catalog.assignments.values(),
        assignment,
        courses.bank.names_of(row.question),
        kind,
        history(session, row),
        courses.clock(),
    )
    return _cut(row, kind, level, entry)


def kind_of(bank: Bank, question: str) -> str:
    """The kind of the item `question` names (a former id, or a fixed variant's, included): what
    the reveal rules go by; "" when the bank no longer has it."""
    item = bank.items.get(bank.item_of(question))
    return item.kind if item is not None else ""


def fallback(row: Submission) -> Shown:
    """Without the assignment's rules at hand: practice work whole, assignment work at the verdict
    level and unscaled, so nothing is ever shown that a rule might hide."""
    if row.assignment is None or row.report is None:
        return _facts(row, row.report, None)
    return _cut(row, "", Level.VERDICT, None)


def history(session: Session, row: Submission) -> rules.History:
    """The student's attempts at the item up to and including `row`, and whether one passed."""
    attempt = row.attempt or 1
    passed = session.scalar(
        select(func.count()).where(
            Submission.student == row.student,
            Submission.assignment == row.assignment,
            Submission.question == row.question,
            Submission.attempt <= attempt,
            Submission.verdict == Verdict.PASSED.value,
        )
    )
    return rules.History(attempts=attempt, ever_correct=bool(passed))


def _cut(row: Submission, kind: str, level: Level, entry: AssignmentItem | None) -> Shown:
    """The stored report cut to `level`, scaled to `entry`'s points (unscaled without one).

    Read as a `Report`, so a key an older grader stored beside the declared fields is dropped.
    """
    assert row.report is not None
    report = Report.model_validate(row.report)
    cut = rules.reveal(report, kind, level)
    if entry is not None:
        cut = _scale(cut, entry.points, row.late_penalty or 0.0)
    body = cut.model_dump(mode="json")
    body["submission"] = row.id
    return _facts(row, body, level)


def _scale(report: Report, points: float, penalty: float) -> Report:
    """`report`'s scores in the assignment's points after the late penalty: the score, and an
    override's two, so every number the student reads is on the one scale."""
    score, top = rules.scaled(report, points, penalty)
    changes: dict[str, Any] = {"score": score, "max_score": top}
    if report.override is not None:
        graded = report.model_copy(update={"score": report.override.graded_score})
        changes["override"] = report.override.model_copy(
            update={"score": score, "graded_score": rules.scaled(graded, points, penalty)[0]}
        )
    return report.model_copy(update=changes)


def _facts(row: Submission, report: dict[str, Any] | None, level: Level | None) -> Shown:
    revealed = level.name.lower() if level is not None else None
    return Shown(report, row.assignment, row.attempt, row.late_penalty, revealed)
