"""Item statistics from the store: the course's graded submissions (or one assignment's) read as
`stats.Attempt`s and the bank's items as `stats.ItemInfo`, for `grader.courses.stats`.

Only gradings count: a report the grader could not produce (`status: error`) says nothing about
the item. A student's attempts at an item are numbered in the order they were made, practice and
assignment work alike. The score is the report's own share (an override's score counts), before
an assignment's scaling and late penalties, which are about the student, not the item.

An item's statistics are of all its work: every variant of it, and its old ids (a plain alias, a
fixed variant's), count as the item (`Bank.item_of`). A shuffled mcq's options are counted
by the file's letters, whatever order each student saw them in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from string import ascii_uppercase
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.bank import Bank
from grader.courses.stats import Attempt, CourseStats, ItemInfo, item_stats
from grader.grading.answers import choice_letter
from grader.models import Item, McqItem, Verdict
from grader.service.db import Submission
from grader.service.gradebook import own_assignment
from grader.service.views import Courses


def for_course(
    session: Session, courses: Courses, course: str, assignment_id: str | None
) -> CourseStats:
    """The statistics of `course`'s items, or of one of its assignments' (404 when unknown)."""
    # Graded ones: a submission being regraded keeps its report (and counts) until the next one.
    query = select(Submission).where(Submission.course == course, Submission.verdict.is_not(None))
    listed: list[str] = []
    if assignment_id is not None:
        assignment = own_assignment(courses.catalog, course, assignment_id)
        listed = [entry.id for entry in assignment.items]
        query = query.where(Submission.assignment == assignment_id)
    rows = list(session.scalars(query.order_by(Submission.created_at, Submission.id)))
    if assignment_id is None:
        listed = sorted({courses.bank.item_of(row.question) for row in rows})
    items = dict.fromkeys(courses.bank.item_of(item) for item in listed)  # in order, once each
    return item_stats(attempts(rows, courses.bank), [info(courses, item) for item in items])


def attempts(rows: Iterable[Submission], bank: Bank) -> list[Attempt]:
    """Each graded row as an attempt, numbered per student and item (`Bank.item_of`) in the order
    given."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    found = []
    for row in rows:
        report: dict[str, Any] = row.report or {}
        if row.verdict is None or row.verdict == Verdict.INTERNAL_ERROR.value:
            continue
        item = bank.item_of(row.question)
        seen[row.student, item] += 1
        choice = _choice(row, report, file_ids(bank.items.get(item)))
        found.append(_attempt(row, item, report, seen[row.student, item], choice))
    return found


def _attempt(
    row: Submission, item: str, report: dict[str, Any], number: int, choice: str | None
) -> Attempt:
    top = float(report.get("max_score") or 0.0)
    checks = [check for check in report.get("checks") or [] if isinstance(check, dict)]
    return Attempt(
        student=row.student,
        item=item,
        attempt=number,
        score=float(report.get("score") or 0.0) / top if top > 0 else 0.0,
        correct=row.verdict == Verdict.PASSED.value,
        choice=choice,
        failed_checks=tuple(str(c.get("name")) for c in checks if not c.get("passed")),
        checks=tuple(str(c.get("name")) for c in checks),
        duration_s=float(report.get("duration_s") or 0.0),
    )


def _choice(row: Submission, report: dict[str, Any], filed: list[str] | None) -> str | None:
    """The letter sent (a file's submission has none), as the file letters its option: a
    shuffled mcq's letters are the student's own order's (`report.variant.choices`)."""
    letter = choice_letter(row.choice or "") if row.content is None else None
    shown = (report.get("variant") or {}).get("choices")
    return as_filed(letter, shown, filed)


def file_ids(item: Item | None) -> list[str] | None:
    """A shuffled mcq's option ids in the file's order, which its statistics count options in
    (the order authors wrote, and the key's letter, are the file's); None for any other item."""
    if not isinstance(item, McqItem) or not item.shuffle or item._source is None:
        return None
    written = item._source.get("choices") or []
    return [str(choice.get("id") or ascii_uppercase[i]) for i, choice in enumerate(written)]


def as_filed(letter: str | None, shown: list[str] | None, filed: list[str] | None) -> str | None:
    """`letter` of the option order `shown` (stable ids), as the letter of that option in the
    file order `filed`; as it is when either order is unknown or the letter names no option."""
    if letter is None or not shown or not filed or len(letter) != 1:
        return letter
    index = ascii_uppercase.find(letter)
    if not 0 <= index < len(shown) or shown[index] not in filed:
        return letter
    return ascii_uppercase[filed.index(shown[index])]


def info(courses: Courses, item_id: str) -> ItemInfo:
    item = courses.bank.items.get(item_id)
    if item is None:
        return ItemInfo(id=item_id, kind="unknown")
    if isinstance(item, McqItem):
        shown = item.variant.choices if item.variant is not None else None
        answer = as_filed(item.answer, shown, file_ids(item))  # the bank holds seed 0's order
        return ItemInfo(id=item_id, kind=item.kind, letters=tuple(item.letters), answer=answer)
    return ItemInfo(id=item_id, kind=item.kind)
