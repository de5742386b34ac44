"""`/openapi.json` describes every body the course server answers with, and the bodies match.

The app runs in-process (FastAPI's TestClient, SQLite in tmp_path): submissions are graded inline
as they are dispatched, so a read right after a submit sees the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import load_bank
from grader.service import lms_clients
from grader.service.db import Submission
from grader.service.responses import (
    ErrorBody,
    Health,
    LmsAccepted,
    McqQuestion,
    Question,
    SubmissionQueued,
    SubmissionView,
    question_view,
)
from grader.service.webhooks import signed_headers
from tests.service.conftest import InProcess, TestClient, bearer

MCQ = "finetuning-purpose"
LMS_HOST = "lms.example"
ERROR_REF = "#/components/schemas/ErrorBody"


@dataclass
class Served:
    """The app under a TestClient, its store, a student's token and an LMS client's secret."""

    client: TestClient
    sessions: sessionmaker[Session]
    token: str
    lms_secret: str

    def as_student(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture
def served(make_app: Callable[..., InProcess]) -> Served:
    app = make_app(grading="inline")
    with app.sessions() as session:
        secret = lms_clients.add_client(session, "moodle", [LMS_HOST])
    return Served(app.client, app.sessions, app.token("alice"), secret)


@pytest.fixture
def openapi(served: Served) -> dict[str, Any]:
    response = served.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """`("GET /path", operation)` for every operation the document lists."""
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def described(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether a schema names its keys: a `$ref` to an object with properties, an object with
    properties, an array of such, or a union of such (never `{}` or a bare `object`)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return described(components[name], components)
    if schema.get("type") == "array":
        return described(schema.get("items", {}), components)
    union = schema.get("oneOf") or schema.get("anyOf")
    if union:
        return all(described(member, components) for member in union)
    return bool(schema.get("properties"))


def test_every_json_success_has_a_response_schema(openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    checked, plain = [], []
    for name, operation in operations(openapi):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content", {})
            if "application/json" not in content:
                plain.append((name, sorted(content)))
                continue
            assert described(content["application/json"]["schema"], components), (name, status)
            checked.append(f"{name} {status}")
    assert {
        "POST /v1/submissions 202",
        "GET /v1/submissions/{submission_id} 200",
        "GET /v1/questions 200",
        "GET /healthz 200",
        "POST /v1/lms/submissions 202",
        "POST /v1/lms/submissions 200",
    } <= set(checked)
    assert sorted(plain) == [
        ("GET /metrics", ["text/plain"]),
        ("GET /v1/course/submissions/{submission_id}/file", ["application/octet-stream"]),
    ]


def test_refusals_are_documented_as_the_one_line_error_body(openapi: dict[str, Any]) -> None:
    """The app answers every 4xx and 5xx with `{"error"}`, never FastAPI's `detail` list."""
    for name, operation in operations(openapi):
        refusals = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "500" in refusals or name == "GET /metrics", name
        for status, response in refusals.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (name, status)
    assert "HTTPValidationError" not in openapi["components"]["schemas"]
    student = dict(operations(openapi))["POST /v1/submissions"]["responses"]
    assert {"401", "404", "413", "422", "429"} <= set(student)
    assert "Retry-After" in student["429"]["headers"]
    assert "WWW-Authenticate" in student["401"]["headers"]


def validated(model: type[BaseModel], body: bytes) -> dict[str, Any]:
    """The body, after checking the model reads it and writes it back key for key, in order."""
    parsed = model.model_validate_json(body)
    assert json.loads(parsed.model_dump_json()) == json.loads(body)
    assert list(parsed.model_dump()) == list(json.loads(body))
    data: dict[str, Any] = json.loads(body)
    return data


def test_a_graded_submission_reads_back_as_its_models(served: Served) -> None:
    created = served.client.post(
        "/v1/submissions", data={"question": MCQ, "choice": "A"}, headers=served.as_student()
    )
    assert created.status_code == 202, created.text
    queued = validated(SubmissionQueued, created.content)
    read = served.client.get(created.headers["Location"], headers=served.as_student())
    assert read.status_code == 200, read.text
    view = validated(SubmissionView, read.content)
    assert view["status"] == "done" and view["report"]["submission"] == queued["id"]
    with served.sessions() as session:
        row = session.get(Submission, queued["id"])
        assert row is not None
    assert json.dumps(view["report"]) == json.dumps(row.report), "the stored report, as stored"


def test_questions_health_and_refusals_match_their_models(served: Served) -> None:
    listed = served.client.get("/v1/questions")
    assert listed.status_code == 200
    questions = TypeAdapter(list[Question]).validate_json(listed.content)
    assert {q.kind for q in questions} == {"mcq", "numeric", "code", "predict"}
    assert validated(Health, served.client.get("/healthz").content) == {"status": "ok"}
    missing = served.client.get("/v1/submissions/sub_nope", headers=served.as_student())
    assert missing.status_code == 404
    validated(ErrorBody, missing.content)


def test_an_lms_submission_and_its_replay_match_their_model(served: Served) -> None:
    body = json.dumps(
        {
            "question": MCQ,
            "student": "s1",
            "submission_id": "lms-1",
            "callback_url": f"https://{LMS_HOST}/callback",
            "choice": "A",
        }
    ).encode()
    headers = signed_headers(served.lms_secret, "msg_openapi", body, time.time())
    first = served.client.post("/v1/lms/submissions", content=body, headers=headers)
    again = served.client.post("/v1/lms/submissions", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200), first.text
    assert validated(LmsAccepted, first.content)["replayed"] is False
    assert validated(LmsAccepted, again.content)["replayed"] is True


def test_every_bank_item_has_a_question_view_of_exactly_its_public_keys() -> None:
    """Every key `public()` shows, and no other; an item that does not vary says so."""
    for item in load_bank().items.values():
        public = item.public()
        view = question_view(item).model_dump(mode="json")
        assert view == {"varies": False, "seed": None} | public, item.id


def test_a_question_view_refuses_an_undeclared_key() -> None:
    """A key `public()` should never show (an answer) is an error, not a silent pass-through."""
    item = load_bank().get(MCQ)
    with pytest.raises(ValidationError, match="answer"):
        McqQuestion.model_validate({**item.public(), "answer": "A"})
