"""The bodies the course server answers with, as pydantic models, so `/openapi.json` shows them.

The HTTP API is a contract other programs read, so each model spells out exactly the keys the
routes sent before they were typed, in the same order; none renames or drops one. Bodies the
server builds itself forbid extra keys: a key that is not declared here (a leaked answer key, say)
becomes a loud 500 instead of a silent disclosure. The stored report is the exception: it was
written when its submission was graded, perhaps by an older grader, so it passes through as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from grader.models import Difficulty, Item, Report, Verdict
from grader.models.code import Contract

#: Where a submission is: waiting for a grader, being graded, or graded (its report is there).
SubmissionStatus = Literal["queued", "running", "done"]
#: How much of a report an assignment's reveal rule shows now (grader.models.assignment.Level).
Revealed = Literal["verdict", "feedback", "checks", "key"]

ASSIGNMENT = "The assignment it counts for; null in practice mode."
ATTEMPT = "This student's attempt number at the question in that assignment; null in practice."


class Closed(BaseModel):
    """A body the server builds itself: an undeclared key is a bug, not something to pass on."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Closed):
    """Every refusal and failure: one line saying why, never a traceback."""

    error: str = Field(description="One line: what was wrong and, where it helps, what to do.")


class SubmissionQueued(Closed):
    """`POST /v1/submissions` 202: the new submission's id; poll `Location` for the report."""

    id: str = Field(description="The submission's id, `sub_...`.")
    status: SubmissionStatus
    question: str = Field(description="The question id it answers.")
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)


class StoredReport(Report):
    """The report as stored: the grader's `Report` and the submission it grades.

    Open, not closed: a key an older grader stored is passed on as the route always did.
    """

    model_config = ConfigDict(extra="allow")

    submission: str = Field(description="The id of the submission this report grades.")


class SubmissionView(Closed):
    """`GET /v1/submissions/{id}`: what a student sees, never the stored file or the host."""

    id: str
    question: str
    status: SubmissionStatus
    verdict: Verdict | None = Field(description="The report's verdict once graded, else null.")
    created_at: float = Field(description="Unix time the submission was stored.")
    started_at: float | None = Field(description="Unix time grading last started, if it has.")
    finished_at: float | None = Field(description="Unix time the report was written, if it was.")
    report: StoredReport | None = Field(
        description="The report once `status` is done; in an assignment, scaled to its points "
        "and cut to what `revealed` allows."
    )
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)
    late_penalty: float | None = Field(
        description="Share of the score taken off for lateness (0 on time); null in practice."
    )
    revealed: Revealed | None = Field(
        description="How much of the report the assignment shows now; null in practice mode "
        "(all of it)."
    )
    version: int = Field(
        description="The report's version: 1 as first graded, one more per regrade or "
        "override; 0 before it is graded."
    )


class SubmissionPage(Closed):
    """`GET /v1/submissions`: a page of the student's own submissions, newest first."""

    items: list[SubmissionView]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class CourseSubmission(Closed):
    """A submission as its course's instructor lists it: whole scores, before any scaling."""

    id: str
    student: str
    question: str
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)
    status: SubmissionStatus
    verdict: Verdict | None
    score: float | None = Field(description="The report's score (an override's, if any).")
    max_score: float | None
    late_penalty: float | None
    version: int = Field(description="The report's version (0 before it is graded).")
    overridden: bool = Field(description="True when an instructor set the score.")
    created_at: float
    finished_at: float | None


class CoursePage(Closed):
    """`GET /v1/course/submissions`: a page of the course's submissions, oldest first."""

    items: list[CourseSubmission]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ReportVersionView(Closed):
    """One version of a report: what changed it, who, when, why, and the report it had."""

    version: int
    change: Literal["graded", "regrade", "override"]
    by: str = Field(description="`grader` for the first grading; else the instructor's name.")
    reason: str | None
    at: float = Field(description="Unix time it was written.")
    report: StoredReport


class CourseSubmissionDetail(CourseSubmission):
    """`GET /v1/course/submissions/{id}`: the full report, what was submitted, and the history."""

    choice: str | None = Field(description="The answer sent, for items other than code.")
    filename: str | None = Field(description="The file's name; its bytes are at `/file`.")
    report: StoredReport | None = Field(description="The current report, whole: keys included.")
    history: list[ReportVersionView]


class OverrideRequest(BaseModel):
    """`POST /v1/course/submissions/{id}/override`."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(description="The score that counts, 0 to the report's `max_score`.")
    reason: str = Field(min_length=1, max_length=2000, description="Why; the student reads it.")


class RegradeRequest(BaseModel):
    """`POST /v1/course/regrade`: exactly one of `submission`, `question`, `assignment`."""

    model_config = ConfigDict(extra="forbid")

    submission: str | None = None
    question: str | None = None
    assignment: str | None = None
    force: bool = Field(
        default=False, description="Regrade even submissions whose item has not changed."
    )


class RegradeResult(Closed):
    """What a regrade request did."""

    queued: int = Field(description="Sent back to grading: their item changed (or `force`).")
    unchanged: int = Field(description="Skipped: graded with the item as it is now.")
    pending: int = Field(description="Already waiting for a grading; not queued twice.")
    submissions: list[str] = Field(description="The ids queued.")


class GradebookColumn(Closed):
    """An item of an assignment."""

    id: str = Field(description="`ASSIGNMENT/ITEM`, the CSV's column header.")
    assignment: str
    item: str
    points: float


class GradebookRow(Closed):
    """A student: the score that counts per column (null: nothing graded) and the total."""

    student: str
    scores: dict[str, float | None]
    total: float


class Gradebook(Closed):
    """`GET /v1/course/gradebook`: a row per student, a column per assignment item."""

    course: str
    assignment: str | None = Field(description="The one assignment; null for all the course's.")
    columns: list[GradebookColumn]
    rows: list[GradebookRow]
    max_total: float


class LmsAccepted(Closed):
    """`POST /v1/lms/submissions` 202, or 200 for a replayed `webhook-id`."""

    id: str = Field(description="The grader's submission id, `sub_...`.")
    status: SubmissionStatus
    submission_id: str = Field(description="The LMS's own id, as it sent it.")
    replayed: bool = Field(description="True when this `webhook-id` was already accepted.")
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)


class CallbackData(Closed):
    """What a callback says about the graded submission."""

    id: str = Field(description="The grader's submission id, `sub_...`.")
    submission_id: str | None = Field(description="The LMS's own id, as it sent it.")
    student: str
    question: str
    course: str | None
    report: StoredReport | None = Field(
        description="The report as the student may see it now (in an assignment: scaled and cut "
        "by its reveal rules)."
    )
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)
    late_penalty: float | None
    revealed: Revealed | None
    version: int = Field(description="1 as first graded, one more per regrade or override.")


class Callback(Closed):
    """The body POSTed to an LMS's `callback_url`, signed as Standard Webhooks sign it
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

    type: Literal["submission.graded", "submission.regraded"]
    timestamp: str = Field(description="When the report was written, ISO 8601 UTC (`...Z`).")
    data: CallbackData


class AssignmentItemStatus(Closed):
    """One item of an assignment, and how this student stands on it."""

    id: str = Field(description="The question id, as `grader list` shows it.")
    kind: str = Field(description="`mcq`, `numeric`, `code` or `predict`.")
    points: float = Field(description="What a full score on it is worth in this assignment.")
    attempts_used: int = Field(description="Submissions of this student's to it here.")
    attempts_left: int | None = Field(description="How many more are taken; null: unlimited.")
    score: float | None = Field(
        description="The score that counts so far (best or last graded attempt, per `counts`), "
        "in this assignment's points after any late penalty; null before a graded attempt."
    )


class AssignmentStatus(Closed):
    """`GET /v1/assignments`: an open or upcoming assignment of the token's course."""

    id: str
    title: str
    course: str
    opens: datetime = Field(description="ISO 8601, with the time zone it was written with.")
    due: datetime = Field(description="After it, late work follows the late policy.")
    closes: datetime | None = Field(
        description="No submission after it; null when late work is taken with no cut-off."
    )
    open: bool = Field(description="True when submissions are taken now.")
    counts: Literal["best", "last"] = Field(description="Which graded attempt counts.")
    items: list[AssignmentItemStatus]


class Health(Closed):
    """`GET /healthz` 200: the store answers."""

    status: Literal["ok"]


class QuestionBase(Closed):
    """What every kind of question shows a student before answering: no key, no explanation."""

    id: str
    title: str
    prompt: str = Field(description="The question, in Markdown.")
    tags: list[str]
    difficulty: Difficulty
    points: float = Field(description="Marks for a fully correct answer.")
    varies: bool = Field(
        default=False,
        description="True when each student answers their own variant of it (its own numbers, "
        "shapes or option order): `GET /v1/items/{id}/variant` shows a student theirs.",
    )
    seed: int | None = Field(
        default=None,
        description="Which variant this is (in `GET /v1/questions`, seed 0: an example); null "
        "for a question that does not vary.",
    )


class ChoiceView(Closed):
    """One option of a multiple-choice question, without its feedback."""

    letter: str = Field(description="What to send as `choice`.")
    text: str


class McqQuestion(QuestionBase):
    """Answered with the letter of one choice."""

    kind: Literal["mcq"]
    choices: list[ChoiceView]


class NumericQuestion(QuestionBase):
    """Answered with a number, accepted within a tolerance that stays on the server."""

    kind: Literal["numeric"]


class CheckView(Closed):
    """One graded check of a code exercise, without what it expects."""

    name: str
    points: float
    message: str


class CodeQuestion(QuestionBase):
    """Answered with a .py or .ipynb file that meets the contract."""

    kind: Literal["code"]
    starter: str = Field(description="Code the student starts from.")
    contract: list[Contract] = Field(description="Names the submission must define.")
    checks: list[CheckView] = Field(description="What is graded, in order.")


class PredictQuestion(QuestionBase):
    """Answered with what the snippet prints, or the shape it makes."""

    kind: Literal["predict"]
    snippet: str = Field(description="The code whose output to predict.")
    answer_type: Literal["shape", "text"]


Question = Annotated[
    McqQuestion | NumericQuestion | CodeQuestion | PredictQuestion, Field(discriminator="kind")
]
_QUESTION: TypeAdapter[Question] = TypeAdapter(Question)


def question_view(item: Item) -> Question:
    """The item as `GET /v1/questions` shows it: its `public()` view, checked key by key."""
    return _QUESTION.validate_python(item.public())


def refusals(
    reasons: Mapping[int, str], *, bearer: bool = False
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's refusals: each status, why it happens, and `ErrorBody`.

    A 429 names its `Retry-After`; with `bearer`, a 401 names its `WWW-Authenticate` challenge.
    """
    return {status: _refusal(status, why, bearer) for status, why in reasons.items()}


def _refusal(status: int, why: str, bearer: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": ErrorBody, "description": why}
    if status == 429:
        entry["headers"] = {"Retry-After": _header("integer", "Seconds to wait before retrying.")}
    if status == 401 and bearer:
        entry["headers"] = {"WWW-Authenticate": _header("string", "`Bearer`.")}
    return entry


def _header(kind: str, description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


#: Any JSON route can fail; the app's crash handler answers with the same one-line body.
CRASHED = refusals({500: "A fault of the server; the operator's log has the traceback."})
