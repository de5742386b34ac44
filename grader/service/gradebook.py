"""The gradebook: a row per student, a column per assignment item, the score that counts in each,
and the total; as JSON or CSV.

Each cell applies the assignment's own rules, the same function `GET /v1/assignments` shows a
student (`assignments.counted`): the best or the last graded attempt, scaled to the item's points
in the assignment, after its late penalty; an override's score counts as the report's. The rows
are the course's roster (every student with a token for it) and anyone else who submitted.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.courses.catalog import Catalog
from grader.errors import UnknownQuestion
from grader.models.assignment import Assignment
from grader.service.assignments import counted
from grader.service.db import Submission
from grader.service.responses import Gradebook, GradebookColumn, GradebookRow
from grader.service.tokens import roster_course_students

DECIMALS = 2


def gradebook(
    session: Session, catalog: Catalog, course: str, assignment_id: str | None
) -> Gradebook:
    """The course's gradebook, or one assignment's (`UnknownQuestion` when it is not known)."""
    chosen = _assignments(catalog, course, assignment_id)
    columns = [
        GradebookColumn(id=f"{a.id}/{e.id}", assignment=a.id, item=e.id, points=e.points)
        for a in chosen
        for e in a.items
    ]
    by_student: dict[str, list[Submission]] = defaultdict(list)
    for row in _graded(session, course, [a.id for a in chosen]):
        by_student[row.student].append(row)
    students = sorted(set(roster_course_students(session, course)) | set(by_student))
    book = [_row(student, chosen, by_student.get(student, [])) for student in students]
    top = sum(column.points for column in columns)
    return Gradebook(
        course=course, assignment=assignment_id, columns=columns, rows=book, max_total=top
    )


def _assignments(catalog: Catalog, course: str, assignment_id: str | None) -> list[Assignment]:
    if assignment_id is None:
        return catalog.for_course(course)
    return [own_assignment(catalog, course, assignment_id)]


def own_assignment(catalog: Catalog, course: str | None, assignment_id: str) -> Assignment:
    """`course`'s assignment `assignment_id`; another course's is as unknown as a missing one
    (`UnknownQuestion`, a 404)."""
    assignment = catalog.get(assignment_id)
    if assignment.course != course:
        raise UnknownQuestion(f"unknown assignment {assignment_id!r}")
    return assignment


def _graded(session: Session, course: str, assignment_ids: list[str]) -> list[Submission]:
    if not assignment_ids:
        return []
    query = select(Submission).where(
        Submission.course == course, Submission.assignment.in_(assignment_ids)
    )
    return list(session.scalars(query.order_by(Submission.attempt)))


def _row(student: str, chosen: list[Assignment], mine: list[Submission]) -> GradebookRow:
    scores: dict[str, float | None] = {}
    for assignment in chosen:
        for entry in assignment.items:
            tries = [r for r in mine if r.assignment == assignment.id and r.question == entry.id]
            score = counted(assignment, entry, tries)
            scores[f"{assignment.id}/{entry.id}"] = (
                None if score is None else round(score, DECIMALS)
            )
    total = round(sum(score for score in scores.values() if score is not None), DECIMALS)
    return GradebookRow(student=student, scores=scores, total=total)


def to_csv(book: Gradebook) -> str:
    """`student,<ASSIGNMENT/ITEM>...,total`; a blank cell where nothing is graded yet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *(column.id for column in book.columns), "total"])
    for row in book.rows:
        cells = [_cell(row.scores[column.id]) for column in book.columns]
        writer.writerow([_safe(row.student), *cells, _cell(row.total)])
    return out.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.{DECIMALS}f}"


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a student id starting with `=`, say)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
