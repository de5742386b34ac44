"""Item statistics from the store: the course's graded submissions (or one assignment's) read as
`stats.Attempt`s and the bank's items as `stats.ItemInfo`, for `grader.courses.stats`.

Only gradings count: a report the grader could not produce (`status: error`) says nothing about
the item. A student's attempts at an item are numbered in the order they were made, practice and
assignment work alike. The score is the report's own share (an override's score counts), before
an assignment's scaling and late penalties, which are about the student, not the item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.courses.stats import Attempt, CourseStats, ItemInfo, item_stats
from grader.models import McqItem, Verdict
from grader.service.db import Submission
from grader.service.gradebook import own_assignment
from grader.service.views import Courses


def for_course(
    session: Session, courses: Courses, course: str, assignment_id: str | None
) -> CourseStats:
    """The statistics of `course`'s items, or of one of its assignments' (404 when unknown)."""
    # Graded ones: a submission being regraded keeps its report (and counts) until the next one.
    query = select(Submission).where(Submission.course == course, Submission.verdict.is_not(None))
    if assignment_id is not None:
        assignment = own_assignment(courses.catalog, course, assignment_id)
        item_ids = [entry.id for entry in assignment.items]
        query = query.where(Submission.assignment == assignment_id)
    rows = list(session.scalars(query.order_by(Submission.created_at, Submission.id)))
    if assignment_id is None:
        item_ids = sorted({row.question for row in rows})
    return item_stats(attempts(rows), [info(courses, item) for item in item_ids])


def attempts(rows: Iterable[Submission]) -> list[Attempt]:
    """Each graded row as an attempt, numbered per student and item in the order given."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    found = []
    for row in rows:
        report: dict[str, Any] = row.report or {}
        if row.verdict is None or row.verdict == Verdict.INTERNAL_ERROR.value:
            continue
        seen[row.student, row.question] += 1
        found.append(_attempt(row, report, seen[row.student, row.question]))
    return found


def _attempt(row: Submission, report: dict[str, Any], number: int) -> Attempt:
    top = float(report.get("max_score") or 0.0)
    checks = [check for check in report.get("checks") or [] if isinstance(check, dict)]
    return Attempt(
        student=row.student,
        item=row.question,
        attempt=number,
        score=float(report.get("score") or 0.0) / top if top > 0 else 0.0,
        correct=row.verdict == Verdict.PASSED.value,
        choice=(row.choice or "").strip().upper() or None if row.content is None else None,
        failed_checks=tuple(str(c.get("name")) for c in checks if not c.get("passed")),
        checks=tuple(str(c.get("name")) for c in checks),
        duration_s=float(report.get("duration_s") or 0.0),
    )


def info(courses: Courses, item_id: str) -> ItemInfo:
    item = courses.bank.items.get(item_id)
    if item is None:
        return ItemInfo(id=item_id, kind="unknown")
    if isinstance(item, McqItem):
        return ItemInfo(id=item_id, kind=item.kind, letters=tuple(item.letters), answer=item.answer)
    return ItemInfo(id=item_id, kind=item.kind)
