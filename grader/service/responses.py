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


class LmsAccepted(Closed):
    """`POST /v1/lms/submissions` 202, or 200 for a replayed `webhook-id`."""

    id: str = Field(description="The grader's submission id, `sub_...`.")
    status: SubmissionStatus
    submission_id: str = Field(description="The LMS's own id, as it sent it.")
    replayed: bool = Field(description="True when this `webhook-id` was already accepted.")
    assignment: str | None = Field(description=ASSIGNMENT)
    attempt: int | None = Field(description=ATTEMPT)


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
