"""The instructor API (`/v1/course/...`): a course's submissions, reports and their history, the
gradebook, regrades, overrides and item statistics.

Only an instructor's token reaches it (a student's answers 403), and only its own course's work:
another course's submission answers 404 exactly as an unknown one does. Every change is a new
report version with who and why (versions.py); nothing is overwritten.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from grader.bank.fingerprint import item_fingerprint
from grader.courses.stats import CourseStats
from grader.errors import BadInput
from grader.models import Verdict
from grader.service import course_stats, gradebook, pages, tokens, versions
from grader.service.api import Credentials, State, authenticated
from grader.service.db import ReportVersion, Submission, Token
from grader.service.responses import (
    CRASHED,
    CoursePage,
    CourseSubmission,
    CourseSubmissionDetail,
    Gradebook,
    OverrideRequest,
    RegradeRequest,
    RegradeResult,
    ReportVersionView,
    StoredReport,
    SubmissionStatus,
    refusals,
)
from grader.service.state import ServiceState


def current_instructor(state: State, credentials: Credentials) -> Token:
    """An instructor's token; 401 when missing or unusable, 403 for a student's."""
    token = authenticated(state, credentials)
    if token.role != tokens.INSTRUCTOR or not token.course:
        raise HTTPException(403, "this route needs an instructor's token for the course")
    return token


Instructor = Annotated[Token, Depends(current_instructor)]
router = APIRouter(prefix="/v1/course", tags=["instructors"], responses=CRASHED)

AUTH = {401: "No token, or one the server does not know.", 403: "Not an instructor's token."}
UNKNOWN = "No submission of this course's with that id."
READ = refusals(AUTH | {404: UNKNOWN, 422: "A malformed request."}, bearer=True)
LIST = refusals(AUTH | {422: "A filter, `limit` or `cursor` that does not parse."}, bearer=True)
CHANGE = refusals(
    AUTH
    | {
        404: UNKNOWN,
        409: "Not graded yet, or changed meanwhile.",
        422: "A score off the scale, no reason.",
    },
    bearer=True,
)
NAMED = refusals(AUTH | {404: "No such assignment or question.", 422: "Malformed."}, bearer=True)


@router.get("/submissions", responses=LIST)
def list_submissions(
    state: State,
    token: Instructor,
    student: str | None = None,
    question: str | None = None,
    assignment: str | None = None,
    verdict: Verdict | None = None,
    status: SubmissionStatus | None = None,
    since: Annotated[
        str | None, Query(description="Unix seconds or ISO 8601: submitted at or after it.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)] = pages.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
) -> CoursePage:
    """The course's submissions, oldest first, filtered; `next` pages on."""
    query = select(Submission).where(Submission.course == token.course)
    filters: dict[str, Any] = {
        "student": student,
        "question": question,
        "assignment": assignment,
        "verdict": verdict.value if verdict else None,
        "status": status,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(Submission, column) == value)
    if since is not None:
        query = query.where(Submission.created_at >= _instant(since))
    with state.sessions() as session:
        page = pages.read(session, query, limit, cursor)
    return CoursePage(items=[summary(row) for row in page.rows], next=page.next)


def _instant(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(f"since: {text!r} is neither Unix seconds nor ISO 8601") from exc
    if instant.tzinfo is None:  # UTC, not whatever zone the server happens to run in
        instant = instant.replace(tzinfo=UTC)
    return instant.timestamp()


def summary(row: Submission) -> CourseSubmission:
    report = row.report or {}
    return CourseSubmission(
        id=row.id,
        student=row.student,
        question=row.question,
        assignment=row.assignment,
        attempt=row.attempt,
        status=row.status,
        verdict=Verdict(row.verdict) if row.verdict else None,
        score=report.get("score"),
        max_score=report.get("max_score"),
        late_penalty=row.late_penalty,
        version=row.version,
        overridden=bool(report.get("override")),
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


@router.get("/submissions/{submission_id}", responses=READ)
def read_submission(state: State, token: Instructor, submission_id: str) -> CourseSubmissionDetail:
    """A submission whole: what was sent, the current report with its keys, every version."""
    with state.sessions() as session:
        row = _course_row(session, token, submission_id)
        return detail(row, versions.history(session, row.id))


FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes.", "content": {"application/octet-stream": {}}}
}
CSV: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON, or CSV with `format=csv`.", "content": {"text/csv": {}}}
}


@router.get("/submissions/{submission_id}/file", response_class=Response, responses=READ | FILE)
def read_file(state: State, token: Instructor, submission_id: str) -> Response:
    """The file the student submitted, as bytes (404 for a choice)."""
    with state.sessions() as session:
        row = _course_row(session, token, submission_id)
    if row.content is None:
        raise HTTPException(404, f"submission {submission_id} sent a choice, not a file")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", row.filename or "submission")
    return Response(
        row.content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _course_row(session: Session, token: Token, submission_id: str) -> Submission:
    row = session.get(Submission, submission_id)
    if row is None or row.course != token.course:
        raise HTTPException(404, f"no submission {submission_id!r} in course {token.course!r}")
    return row


def detail(row: Submission, history: list[ReportVersion]) -> CourseSubmissionDetail:
    report = StoredReport.model_validate(row.report) if row.report is not None else None
    return CourseSubmissionDetail(
        **summary(row).model_dump(),
        choice=row.choice,
        filename=row.filename,
        report=report,
        history=[_version(v) for v in history],
    )


def _version(version: ReportVersion) -> ReportVersionView:
    return ReportVersionView(
        version=version.version,
        change=version.change,
        by=version.by,
        reason=version.reason,
        at=version.created_at,
        report=StoredReport.model_validate(version.report),
    )


@router.post("/submissions/{submission_id}/override", responses=CHANGE)
def override(
    state: State, token: Instructor, submission_id: str, body: OverrideRequest
) -> CourseSubmissionDetail:
    """Set the score that counts, with a reason: a new version the student and the LMS get."""
    with state.sessions() as session:
        row = _course_row(session, token, submission_id)
        row = versions.override(session, row, body.score, body.reason, token.student)
        return detail(row, versions.history(session, row.id))


@router.post("/regrade", responses=NAMED)
def regrade(state: State, token: Instructor, body: RegradeRequest) -> RegradeResult:
    """Grade again one submission, or every one of a question or an assignment, whose item
    changed since (all of them with `force`); each gets a new version when graded."""
    with state.sessions() as session:
        rows = list(session.scalars(_regrade_query(state, token, body)))
        if body.submission is not None and not rows:
            raise HTTPException(404, f"no submission {body.submission!r} in {token.course!r}")
        solutions = state.settings.grader.solutions
        count = versions.request_regrade(
            session,
            rows,
            lambda item: item_fingerprint(state.bank, item, solutions),
            token.student,
            body.force,
        )
        queues = {row.id: row.queue for row in rows}
    for submission_id in count.queued:
        state.dispatcher.dispatch(submission_id, queues[submission_id])
    return RegradeResult(
        queued=len(count.queued),
        unchanged=count.unchanged,
        pending=count.pending,
        submissions=count.queued,
    )


def _regrade_query(state: ServiceState, token: Token, body: RegradeRequest) -> Select[Submission]:
    named = {"submission": body.submission, "question": body.question}
    named["assignment"] = body.assignment
    given = {key: value for key, value in named.items() if value is not None}
    if len(given) != 1:
        raise BadInput("name exactly one of submission, question or assignment")
    query = select(Submission).where(Submission.course == token.course)
    if body.question is not None:
        state.bank.get(body.question)  # 404 for an unknown question
    if body.assignment is not None:
        gradebook.own_assignment(state.catalog, token.course, body.assignment)
    ((column, value),) = given.items()
    key = "id" if column == "submission" else column
    return query.where(getattr(Submission, key) == value).order_by(Submission.created_at)


@router.get("/gradebook", response_model=Gradebook, responses=NAMED | CSV)
def read_gradebook(
    state: State,
    token: Instructor,
    assignment: Annotated[str | None, Query(description="One assignment; default: all.")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",  # noqa: A002 - the API's name
) -> Gradebook | Response:
    """A row per student (roster and submitters), a column per assignment item, the total;
    `format=csv` for a spreadsheet."""
    assert token.course is not None
    with state.sessions() as session:
        book: Gradebook = gradebook.gradebook(session, state.catalog, token.course, assignment)
    if format == "csv":
        return Response(gradebook.to_csv(book), media_type="text/csv; charset=utf-8")
    return book


@router.get("/stats", responses=NAMED)
def read_stats(
    state: State,
    token: Instructor,
    assignment: Annotated[str | None, Query(description="One assignment; default: all.")] = None,
) -> CourseStats:
    """Item statistics for the course (or one assignment): facility, discrimination, options,
    checks, attempts and grading times, with the items worth an author's look flagged."""
    assert token.course is not None
    with state.sessions() as session:
        return course_stats.for_course(session, state, token.course, assignment)
