"""An assignment's rules at intake, and a student's standing in each (`GET /v1/assignments`).

A submission that names an assignment is taken only when the assignment exists (404 on the
student API; 422 from an LMS, where it is a field of the body, as an unknown question is), is the
student's course's (403), lists the item (422) and is open now (403, the reason naming the opening
or closing time). The attempt limit is enforced by the store as the row is written (409), where
the count is atomic: `store.add_submission`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.bank import Bank
from grader.courses import rules
from grader.courses.catalog import Catalog
from grader.errors import BadInput
from grader.models import Report
from grader.models.assignment import Assignment, AssignmentItem
from grader.service.db import Submission
from grader.service.errors import Refused
from grader.service.responses import AssignmentItemStatus, AssignmentStatus
from grader.service.store import NewSubmission
from grader.service.views import Courses, kind_of


@dataclass(frozen=True)
class Admitted:
    """A submission the assignment's rules take, and the attempt limit the store enforces."""

    new: NewSubmission
    limit: int | None = None


def admit(catalog: Catalog, bank: Bank, new: NewSubmission, at: datetime) -> Admitted:
    """`new` with its late penalty, if its assignment takes it at `at`; practice work as it is.

    An unknown assignment raises `UnknownQuestion` (a `BadInput`); the rest `Refused`/`BadInput`.
    """
    if new.assignment is None:
        kind = bank.get(new.question).kind
        _practice_allowed(catalog, bank.names_of(new.question), new.question, kind, at)
        return Admitted(new)
    assignment = catalog.get(new.assignment)
    _same_course(assignment, new.course)
    if assignment.entry(new.question) is None:
        listed = ", ".join(entry.id for entry in assignment.items)
        raise BadInput(f"{new.question!r} is not in assignment {assignment.id!r} ({listed})")
    window = rules.window(assignment, at)
    if not window.open:
        raise Refused(403, window.reason)
    penalised = dataclasses.replace(new, late_penalty=window.penalty)
    return Admitted(penalised, assignment.attempt_limit(new.question))


def _practice_allowed(
    catalog: Catalog, names: AbstractSet[str], item_id: str, kind: str, at: datetime
) -> None:
    """Practice shows everything at once, so an item some assignment still guards (on this
    server, whatever the course: a student of another course could pass the key on), under any
    of its `names`, is taken only as that assignment's work (`rules.practice_open`)."""
    if rules.practice_open(catalog.assignments.values(), names, kind, at):
        return
    guarding = [a.id for a in catalog.assignments.values() if rules.lists(a, names)]
    first = guarding[0]
    raise BadInput(
        f"{item_id!r} is part of assignment {first!r}: submit it with `--assignment {first}` "
        "(practice is closed while an assignment guards it)"
    )


def _same_course(assignment: Assignment, course: str | None) -> None:
    if course != assignment.course:
        yours = f"is for course {course!r}" if course else "names no course"
        raise Refused(
            403,
            f"assignment {assignment.id!r} is for course {assignment.course!r}; this "
            f"submission {yours}",
        )


def listing(
    courses: Courses, session: Session, student: str, course: str | None
) -> list[AssignmentStatus]:
    """The course's assignments still to close, soonest due first (then by id), with the
    student's standing."""
    at = courses.clock()
    current = [a for a in courses.catalog.for_course(course) if a.closes() >= at]
    current.sort(key=lambda a: (a.due, a.id))
    rows = _attempts(session, student, [a.id for a in current])
    return [_status(courses, assignment, rows, at) for assignment in current]


def _attempts(session: Session, student: str, ids: list[str]) -> list[Submission]:
    if not ids:
        return []
    query = select(Submission).where(Submission.student == student, Submission.assignment.in_(ids))
    return list(session.scalars(query.order_by(Submission.attempt)))


def _status(
    courses: Courses, assignment: Assignment, rows: list[Submission], at: datetime
) -> AssignmentStatus:
    mine = [row for row in rows if row.assignment == assignment.id]
    return AssignmentStatus(
        id=assignment.id,
        title=assignment.title,
        course=assignment.course,
        opens=assignment.opens,
        due=assignment.due,
        closes=_closes(assignment),
        open=rules.window(assignment, at).open,
        counts=assignment.counts,
        items=[_item(courses, assignment, entry, mine) for entry in assignment.items],
    )


def _closes(assignment: Assignment) -> datetime | None:
    """The last moment work is taken; None when late work is taken with no cut-off."""
    late = assignment.late
    return None if late.accept != "never" and late.cutoff is None else assignment.closes()


def _item(
    courses: Courses, assignment: Assignment, entry: AssignmentItem, rows: list[Submission]
) -> AssignmentItemStatus:
    tries = [row for row in rows if row.question == entry.id]
    limit = assignment.attempt_limit(entry.id)
    return AssignmentItemStatus(
        id=entry.id,
        kind=kind_of(courses.bank, entry.id),
        points=entry.points,
        attempts_used=len(tries),
        attempts_left=None if limit is None else max(0, limit - len(tries)),
        score=counted(assignment, entry, tries),
    )


def counted(
    assignment: Assignment, entry: AssignmentItem, tries: Iterable[Submission]
) -> float | None:
    """The best, or the last graded, attempt's score in the assignment's points (rows are in
    attempt order); None before any is graded."""
    scores = [
        rules.scaled(Report.model_validate(row.report), entry.points, row.late_penalty or 0.0)[0]
        for row in tries
        if row.report is not None  # a report waiting for its regrade still counts
    ]
    if not scores:
        return None
    return max(scores) if assignment.counts == "best" else scores[-1]
