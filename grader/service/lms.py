"""`POST /v1/lms/submissions`: an LMS hands in a student's work with a signed webhook.

The order of the checks is the order of trust: the signature (401) before anything in the body
is believed, the client's rate limit (429) before any work, a replayed `webhook-id` (200, the
original submission) before parsing, then the body (422), the student's rate limit (429), and an
assignment's rules (assignments.py: 422, 403; the attempt limit, 409, as the row is stored), and
the student's submissions in flight (429, as the row is stored: `store.add_submission`). The
body's `course` is the student's course: the client is trusted with it as with `student`.

The client is the one whose secret signed the request. An LMS may name itself in a
`webhook-client` header (only that client's secrets are tried); without it every client's secrets
are tried, so a stock Standard Webhooks sender works unchanged.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from grader.errors import BadInput, UnknownQuestion
from grader.service import assignments, intake, lms_clients, logs, store, variants
from grader.service.db import InboundWebhook, LmsClient, Submission
from grader.service.errors import AttemptsUsedUp, Refused, StudentBusy, WebhookRejected
from grader.service.state import ServiceState
from grader.service.webhooks import host_allowed, message_id, verify

CLIENT_HEADER = "webhook-client"


class LmsSubmissionBody(BaseModel):
    """The JSON body an LMS signs: who answered what, and where the report goes. A key this
    server does not know is ignored, as a webhook consumer should (a newer LMS may send more)."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1, max_length=200, description="the bank item's id")
    student: str = Field(min_length=1, max_length=200, description="the LMS's id of the student")
    submission_id: str = Field(
        min_length=1, max_length=200, description="the LMS's own id, echoed in the callback"
    )
    callback_url: str = Field(
        min_length=1, max_length=2000, description="http(s) URL on a registered callback host"
    )
    course: str | None = Field(default=None, max_length=200)
    filename: str | None = Field(default=None, min_length=1, max_length=200)
    content: str | None = Field(default=None, description="UTF-8 text of the .py or .ipynb file")
    choice: str | None = Field(default=None, description="a letter, a number, or an output")
    assignment: str | None = Field(
        default=None, min_length=1, max_length=200, description="the assignment it counts for"
    )

    @field_validator("student", "course", "submission_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        """Ids end up in gradebooks and terminals: no control characters."""
        if value is not None and not value.isprintable():
            raise ValueError("must be printable characters (no control characters)")
        return value

    @model_validator(mode="after")
    def _one_answer(self) -> LmsSubmissionBody:
        if (self.content is None) == (self.choice is None):
            raise ValueError("send either `filename` and `content` (a file) or `choice`")
        if self.content is not None and not self.filename:
            raise ValueError("`content` needs a `filename` ending in .py or .ipynb")
        return self


SIGNED_HEADERS = {
    "webhook-id": "The message's unique id; a replay of it returns the first submission.",
    "webhook-timestamp": "Unix seconds when it was signed; within the tolerance of now.",
    "webhook-signature": "Space-separated `v1,<base64 HMAC-SHA256>`, one per secret.",
    CLIENT_HEADER: "Optional: the client's registered name, so only its secrets are tried.",
}


def _described() -> dict[str, Any]:
    """The route reads its body raw (the signature covers the bytes), so FastAPI cannot see it:
    its body and signed headers are declared here for `/openapi.json`."""
    headers = [
        {
            "name": name,
            "in": "header",
            "required": name != CLIENT_HEADER,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in SIGNED_HEADERS.items()
    ]
    schema = LmsSubmissionBody.model_json_schema()
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    return {"parameters": headers, "requestBody": body}


def lms_router(state: ServiceState) -> APIRouter:
    """The LMS webhook endpoint, bound to the running service's state."""
    router = APIRouter(prefix="/v1/lms", tags=["lms"])

    @router.post("/submissions", status_code=202, openapi_extra=_described())
    async def submit(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            return await run_in_threadpool(accept, state, request.headers, body)
        except Refused as refused:
            return refused.response()

    return router


def accept(state: ServiceState, headers: Mapping[str, str], body: bytes) -> JSONResponse:
    """Verify, de-duplicate, validate and store one LMS submission, then dispatch it."""
    client_id, client_name, hosts = authenticate(state, headers, body)
    _limit(state.client_limits.retry_after(f"lms:{client_id}"), f"LMS client {client_name!r}")
    msg_id = message_id(headers)
    with state.sessions() as session:
        original = _seen(session, client_id, msg_id)
    if original is not None:
        return _answer(original, 200, replayed=True)
    form = _parse(body)
    if not host_allowed(form.callback_url, hosts):
        raise Refused(
            422,
            f"callback_url {form.callback_url!r} is not on a registered callback host "
            f"of {client_name!r} ({', '.join(hosts)})",
        )
    _limit(state.student_limits.retry_after(f"lms:{client_id}:{form.student}"), "this student")
    admitted = _checked(state, form, client_id)
    row, created = _store(state, client_id, msg_id, admitted)
    if not created:
        return _answer(row, 200, replayed=True)
    logs.accepted(row, f"lms:{client_id}")
    state.dispatcher.dispatch(row.id, admitted.new.queue)
    return _answer(row, 202, replayed=False)


def authenticate(
    state: ServiceState, headers: Mapping[str, str], body: bytes
) -> tuple[int, str, list[str]]:
    """The signing client's id, name and callback hosts; `Refused(401)` for anything else."""
    named = headers.get(CLIENT_HEADER)
    with state.sessions() as session:
        if named:
            client = session.scalar(select(LmsClient).where(LmsClient.name == named))
            if client is None:
                raise Refused(401, f"unknown LMS client {named!r} in the {CLIENT_HEADER} header")
            candidates = [(client, lms_clients.client_secrets(session, client.id))]
        else:
            candidates = lms_clients.all_clients_with_secrets(session)
    owner = {secret: client for client, secrets in candidates for secret in secrets}
    tolerance = state.settings.webhook_tolerance_s
    try:
        secret = verify(list(owner), headers, body, time.time(), tolerance)
    except WebhookRejected as exc:
        raise Refused(401, exc.reason) from None
    client = owner[secret]
    return client.id, client.name, list(client.callback_hosts)


def _limit(wait: float | None, who: str) -> None:
    if wait is not None:
        raise Refused(429, f"too many submissions from {who}; retry later", retry_after=wait)


def _parse(body: bytes) -> LmsSubmissionBody:
    try:
        return LmsSubmissionBody.model_validate_json(body)
    except ValidationError as exc:
        raise Refused(422, _first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    """One line naming the field and what is wrong with it, as every 422 of the service does."""
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def _checked(state: ServiceState, form: LmsSubmissionBody, client_id: int) -> assignments.Admitted:
    new = store.NewSubmission(
        question=form.question,
        student=form.student,
        course=form.course,
        filename=form.filename,
        content=form.content.encode("utf-8") if form.content is not None else None,
        choice=form.choice,
        client_id=client_id,
        external_id=form.submission_id,
        callback_url=form.callback_url,
        assignment=form.assignment,
    )
    try:
        new = intake.checked_submission(state.bank, new)
        admitted = assignments.admit(state.catalog, state.bank, new, state.clock())
    except UnknownQuestion as exc:  # as the student route answers it
        raise Refused(404, str(exc)) from None
    except BadInput as exc:
        raise Refused(422, str(exc)) from None
    seeded = variants.seeding(state.sessions, state.bank, state.catalog, admitted.new)
    return dataclasses.replace(admitted, new=seeded)


def _seen(session: Session, client_id: int, msg_id: str) -> Submission | None:
    """The submission a `webhook-id` of this client already created, if any."""
    return session.scalar(
        select(Submission)
        .join(InboundWebhook, InboundWebhook.submission_id == Submission.id)
        .where(InboundWebhook.client_id == client_id, InboundWebhook.webhook_id == msg_id)
    )


def _store(
    state: ServiceState, client_id: int, msg_id: str, admitted: assignments.Admitted
) -> tuple[Submission, bool]:
    """The submission and its `webhook-id` in one transaction; (row, created).

    Two copies of one delivery arriving together both get here; the unique (client, webhook-id)
    constraint lets one commit and the other finds the winner's submission. In an assignment the
    attempt number is unique too: a request that lost that race (and is no copy) counts again.
    A copy refused for the student's work in flight (which its original adds to) is answered
    with the original too.
    """
    cap = state.settings.student_inflight
    for _ in range(store.ATTEMPT_TRIES):
        with state.sessions() as session:
            try:
                return _insert(session, client_id, msg_id, admitted, cap), True
            except IntegrityError:
                session.rollback()
            except (AttemptsUsedUp, StudentBusy) as refused:
                session.rollback()
                if _seen(session, client_id, msg_id) is None:
                    raise _for_lms(refused, admitted.new.student) from None
            original = _seen(session, client_id, msg_id)
        if original is not None:
            return original, False
        if admitted.new.assignment is None:
            break
    raise Refused(409, "this webhook-id collided with another request; send it again")


def _for_lms(refused: Refused, student: str) -> Refused:
    """The refusal as the LMS reads it: "of this student", not "of yours"."""
    if isinstance(refused, StudentBusy):
        return StudentBusy(refused.in_flight, f"of student {student!r}")
    return refused


def _insert(
    session: Session, client_id: int, msg_id: str, admitted: assignments.Admitted, cap: int
) -> Submission:
    row = store.add_submission(session, admitted.new, admitted.limit, cap)
    session.flush()  # the submission first: the webhook row refers to it
    session.add(InboundWebhook(client_id=client_id, webhook_id=msg_id, submission_id=row.id))
    session.commit()
    return row


def _answer(row: Submission, status_code: int, *, replayed: bool) -> JSONResponse:
    content: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "submission_id": row.external_id,
        "replayed": replayed,
        "assignment": row.assignment,
        "attempt": row.attempt,
    }
    return JSONResponse(content, status_code=status_code)
