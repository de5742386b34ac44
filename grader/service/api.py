"""The student API: submit work, read one's own submissions, list the questions and assignments.

Every route is a plain `def`: FastAPI runs it in its thread pool, so the store's blocking calls
never hold up the event loop. A student's token reads only that student's submissions; anyone
else's id answers 404 exactly as an unknown one does, so ids cannot be probed.

Each route names its response model (grader/service/responses.py) and the refusals it can give,
so `/openapi.json` describes every body a client can receive.

A submission may name an assignment: its rules are checked at intake (assignments.py) and its
attempts counted by the store; what the student reads back is cut to what the rules allow now
(views.py).

An item with params varies: `GET /v1/items/{id}/variant` shows a student their own variant (an
instructor any student's of the course), and a submission is stored with that variant's seed and
graded on it (variants.py).
"""

from __future__ import annotations

import asyncio
import math
import posixpath
import time
from typing import Annotated, cast

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, text

from grader.errors import BadInput
from grader.models import Verdict
from grader.service import assignments, intake, logs, pages, store, tokens, variants, views
from grader.service.db import Submission, Token
from grader.service.gradebook import own_assignment
from grader.service.responses import (
    CRASHED,
    AssignmentStatus,
    Health,
    Question,
    Revealed,
    StoredReport,
    SubmissionPage,
    SubmissionQueued,
    SubmissionStatus,
    SubmissionView,
    question_view,
    refusals,
)
from grader.service.state import ServiceState

bearer = HTTPBearer(
    auto_error=False,
    description="A student token from `grader tokens create --student ID`.",
)


def service(request: Request) -> ServiceState:
    return cast(ServiceState, request.app.state.service)


State = Annotated[ServiceState, Depends(service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authenticated(state: ServiceState, credentials: HTTPAuthorizationCredentials | None) -> Token:
    """The token, if it is known, not revoked and not expired; 401 with the reason otherwise."""
    if credentials is None:
        raise _unauthorized("send `Authorization: Bearer TOKEN` (from `grader tokens create`)")
    with state.sessions() as session:
        token = tokens.find_token(session, credentials.credentials)
    why = tokens.refusal(token, state.clock().timestamp())
    if why is not None or token is None:
        raise _unauthorized(why or "unknown token")
    return token


def current_student(state: State, credentials: Credentials) -> Token:
    """A student's token; 401 when it is missing or unusable, 403 for an instructor's (their
    work is not a student's: the course routes are theirs)."""
    token = authenticated(state, credentials)
    if token.role != tokens.STUDENT:
        raise HTTPException(403, "this route is for students; instructors use /v1/course/...")
    return token


def _unauthorized(why: str) -> HTTPException:
    return HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})


Student = Annotated[Token, Depends(current_student)]
router = APIRouter(responses=CRASHED)

#: The longest a read of a submission may be held for its report (`?wait=`): under the server's
#: graceful-shutdown timeout, so a held read never delays a stop by more than that.
MAX_WAIT_S = 5.0
#: How often a held read looks again: soon at first (a warm job takes tens of milliseconds),
#: then less often, so many held reads cost the store little.
FIRST_PAUSE_S, MAX_PAUSE_S = 0.01, 0.2
NO_TOKEN = "No token, or one the server does not know."
UNPARSED = "A malformed request; the reason names the field."

SUBMIT_RESPONSES = {
    202: {
        "description": "Queued; `Location` is where its status and report will be.",
        "headers": {
            "Location": {"description": "`/v1/submissions/{id}`", "schema": {"type": "string"}}
        },
    },
    **refusals(
        {
            401: NO_TOKEN,
            403: "The assignment is another course's, not open yet, or closed (the reason "
            "says), or the token is an instructor's.",
            404: "No question, or no assignment, with that id.",
            409: "Every attempt at this item of the assignment is used (`attempts used up`).",
            413: "The file, or the whole body, is over the upload cap.",
            422: "A malformed form, not a valid answer, or an item not in the assignment.",
            429: "Too many submissions from this student, or `GRADER_STUDENT_INFLIGHT` of "
            "theirs still being graded; wait `Retry-After` seconds.",
        },
        bearer=True,
    ),
}
NOT_STUDENT = "An instructor's token: the course routes are theirs."
READ_RESPONSES = refusals(
    {
        401: NO_TOKEN,
        403: NOT_STUDENT,
        404: "No submission of this student's with that id.",
        422: UNPARSED,
    },
    bearer=True,
)
LIST_RESPONSES = refusals({401: NO_TOKEN, 403: NOT_STUDENT}, bearer=True)
PAGE_RESPONSES = refusals({401: NO_TOKEN, 403: NOT_STUDENT, 422: UNPARSED}, bearer=True)


@router.post("/v1/submissions", status_code=202, tags=["students"], responses=SUBMIT_RESPONSES)
def submit(
    state: State,
    token: Student,
    response: Response,
    question: Annotated[str, Form(description="The question id, as `grader list` shows it.")],
    file: Annotated[UploadFile | None, File(description="A .py or .ipynb file.")] = None,
    choice: Annotated[str | None, Form(description="A letter, a number or a prediction.")] = None,
    assignment: Annotated[
        str | None, Form(description="The assignment it counts for; none: practice.")
    ] = None,
) -> SubmissionQueued:
    """Queue a submission: a file for a code exercise, a choice for every other kind."""
    _rate_limit(state, token.student)
    if file is not None and choice is not None:
        raise BadInput("send either a file or a choice, not both")
    content, filename = _upload(state, file)
    new = store.NewSubmission(
        question=question,
        student=token.student,
        course=token.course,
        filename=filename,
        content=content,
        choice=choice,
        assignment=assignment or None,
    )
    new = intake.checked_submission(state.bank, new)
    admitted = assignments.admit(state.catalog, state.bank, new, state.clock())
    seeded = variants.seeding(state.sessions, state.bank, state.catalog, admitted.new)
    cap = state.settings.student_inflight
    row = store.add_counted(state.sessions, seeded, admitted.limit, cap)
    logs.accepted(row, "api")
    state.dispatcher.dispatch(row.id, new.queue)
    response.headers["Location"] = f"/v1/submissions/{row.id}"
    return SubmissionQueued(
        id=row.id,
        status=_status(row),
        question=row.question,
        assignment=row.assignment,
        attempt=row.attempt,
    )


def _rate_limit(state: ServiceState, student: str) -> None:
    wait = state.student_limits.retry_after(student)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            f"too many submissions; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def _upload(state: ServiceState, file: UploadFile | None) -> tuple[bytes | None, str | None]:
    """The file's bytes (read with the cap) and its bare name; 413 when over the cap."""
    if file is None:
        return None, None
    cap = state.settings.max_upload_bytes
    content = file.file.read(cap + 1)
    if len(content) > cap:
        raise HTTPException(413, f"file larger than {cap} bytes; submit only your code")
    name = posixpath.basename((file.filename or "").replace("\\", "/"))
    return content, name or None


@router.get("/v1/submissions/{submission_id}", tags=["students"], responses=READ_RESPONSES)
async def read_submission(
    state: State,
    token: Student,
    submission_id: str,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_S,
            description="Seconds to hold the answer until the report is there (long poll); "
            "0 answers at once.",
        ),
    ] = 0,
) -> SubmissionView:
    """A submission's status, and its report once graded (in an assignment: as its rules allow
    now). With `wait`, the answer comes as soon as the report is written, or after `wait`
    seconds with the status then: a client needs no fixed poll interval."""
    deadline, pause = time.monotonic() + wait, FIRST_PAUSE_S
    while True:
        view = await run_in_threadpool(_read_submission, state, token, submission_id)
        left = deadline - time.monotonic()
        if view.status == "done" or left <= 0:
            return view
        await asyncio.sleep(min(pause, left))
        pause = min(MAX_PAUSE_S, pause * 2)


def _read_submission(state: ServiceState, token: Token, submission_id: str) -> SubmissionView:
    with state.sessions() as session:
        row = session.get(Submission, submission_id)
        if row is None or not views.owns(token, row):
            raise HTTPException(404, f"no submission {submission_id!r} of yours")
        shown = views.shown(state, session, row)
        return submission_view(row, shown)


def submission_view(row: Submission, shown: views.Shown) -> SubmissionView:
    """What a student sees of a submission: never the stored file or the grader's host, and of
    the report only what `shown` kept."""
    report = StoredReport.model_validate(shown.report) if shown.report is not None else None
    return SubmissionView(
        id=row.id,
        question=row.question,
        status=_status(row),
        verdict=Verdict(row.verdict) if row.verdict is not None else None,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        report=report,
        assignment=shown.assignment,
        attempt=shown.attempt,
        late_penalty=shown.late_penalty,
        revealed=cast(Revealed | None, shown.revealed),
        version=row.version,
    )


@router.get("/v1/submissions", tags=["students"], responses=PAGE_RESPONSES)
def list_submissions(
    state: State,
    token: Student,
    question: Annotated[str | None, Query(description="Only this question's.")] = None,
    assignment: Annotated[str | None, Query(description="Only this assignment's.")] = None,
    limit: Annotated[int, Query(ge=1, le=pages.MAX_LIMIT)] = pages.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
) -> SubmissionPage:
    """The student's own submissions, newest first, each as `GET /v1/submissions/{id}` shows it."""
    query = select(Submission).where(*views.owned_by(token))
    if question is not None:
        query = query.where(Submission.question == question)
    if assignment is not None:
        query = query.where(Submission.assignment == assignment)
    with state.sessions() as session:
        page = pages.read(session, query, limit, cursor, newest_first=True)
        items = [submission_view(row, views.shown(state, session, row)) for row in page.rows]
    return SubmissionPage(items=items, next=page.next)


def _status(row: Submission) -> SubmissionStatus:
    """The row's status as the API types it; the model still checks the value it is given."""
    return cast(SubmissionStatus, row.status)


@router.get("/v1/questions", tags=["students"])
def list_questions(state: State) -> list[Question]:
    """Every item as a student may see it: no key, no feedback, no hidden value."""
    return [question_view(state.bank.items[key]) for key in sorted(state.bank.items)]


VARIANT_RESPONSES = refusals(
    {
        401: NO_TOKEN,
        403: "A student's token asking for another student's variant.",
        404: "No question with that id, or no assignment of the token's course with that id.",
        422: "An instructor's token without `student`, or an item not in the assignment.",
    },
    bearer=True,
)


@router.get(
    "/v1/items/{item_id}/variant", tags=["students", "instructors"], responses=VARIANT_RESPONSES
)
def read_variant(
    state: State,
    credentials: Credentials,
    item_id: str,
    student: Annotated[
        str | None, Query(description="Instructors: whose variant (a student of the course).")
    ] = None,
    assignment: Annotated[
        str | None, Query(description="The variant of the next attempt in this assignment.")
    ] = None,
) -> Question:
    """The variant of an item a student answers: its numbers, shapes and option order, and its
    seed. A student reads their own; an instructor any student's of the course (`student`)."""
    course, whose = _variant_owner(authenticated(state, credentials), student)
    if assignment is not None:
        _in_assignment(state, course, assignment, item_id)
    state.bank.get(item_id)  # 404 for an unknown question
    with state.sessions() as session:
        seed = variants.next_seed(
            session, state.sessions, state.bank, state.catalog, (course, whose), item_id, assignment
        )
    return question_view(state.bank.variant(item_id, seed))


def _variant_owner(token: Token, student: str | None) -> tuple[str | None, str]:
    """(course, student) whose variant the token may read: a student's own (403 for another's),
    an instructor's named student of their course (422 when none is named)."""
    if token.role == tokens.INSTRUCTOR:
        if not student:
            raise BadInput("student: name the student whose variant to show (?student=ID)")
        return token.course, student
    if student is not None and student != token.student:
        raise HTTPException(403, "a student reads only their own variant")
    return token.course, token.student


def _in_assignment(state: ServiceState, course: str | None, assignment_id: str, item: str) -> None:
    """The assignment is the course's (404 as unknown otherwise) and lists the item (422)."""
    found = own_assignment(state.catalog, course, assignment_id)
    if found.entry(item) is None:
        listed = ", ".join(entry.id for entry in found.items)
        raise BadInput(f"{item!r} is not in assignment {assignment_id!r} ({listed})")


@router.get("/v1/assignments", tags=["students"], responses=LIST_RESPONSES)
def list_assignments(state: State, token: Student) -> list[AssignmentStatus]:
    """The open and upcoming assignments of the token's course, with this student's attempts
    and scores so far; none for a token without a course."""
    with state.sessions() as session:
        return assignments.listing(state, session, token.student, token.course)


@router.get(
    "/healthz",
    tags=["operators"],
    responses=refusals({503: "The store does not answer; the reason names the error."}),
)
def healthz(state: State) -> Health:
    """200 when the store answers; 503 otherwise."""
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any store failure is "not healthy", said in one line
        raise HTTPException(503, f"store unavailable ({type(exc).__name__})") from exc
    return Health(status="ok")
