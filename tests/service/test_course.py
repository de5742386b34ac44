"""The instructor API (`/v1/course/...`) and the student's own list (`GET /v1/submissions`).

The app runs in process, graded inline (a read right after a submit sees the report), with the
assignments of test_assignments.py read from files and the service's clock set by the test. A
fixed item is simulated by replacing the bank's item with a changed copy (restored afterwards:
the bank is shared by the session). LMS submissions are posted signed, as an LMS posts them; the
deliveries they owe are read from the store, not sent.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from grader.bank import Bank
from grader.bank.fingerprint import item_fingerprint
from grader.courses.catalog import load_catalog
from grader.errors import GraderError
from grader.models import McqItem
from grader.service import grading, lms_clients, store, tokens, versions
from grader.service.db import Delivery, Submission
from grader.service.deliveries import EVENT_TYPE, REGRADE_TYPE, payload
from sandbox.fake import FakeSandbox, result
from tests.service.conftest import InProcess, TestClient, bearer, both_stores
from tests.service.test_assignments import (
    COURSE,
    HIDDEN,
    KEY,
    MCQ,
    NUMERIC,
    OPENS,
    WRONG,
    Clock,
    error,
    no_key,
    quiz,
)
from tests.service.test_lms import Served, lms_body, post

OTHER = "cv-201"
FREE = "cats-dogs-500-images"  # in no assignment: practice, key C
FREE_KEY, FREE_WRONG = "C", "A"
TEACHER = "prof-ada"
CODE = "binary-metrics"


@dataclass
class Classroom:
    """The app with a course's assignments, its clock, and an instructor of the course."""

    app: InProcess
    clock: Clock
    teacher: str

    @property
    def http(self) -> TestClient:
        return self.app.client

    def student(self, name: str | None = None, course: str | None = COURSE) -> str:
        return self.app.token(name or f"student-{secrets.token_hex(4)}", course)

    def submit(
        self, token: str, choice: str, question: str = MCQ, assignment: str | None = "quiz"
    ) -> str:
        data = {"question": question, "choice": choice}
        data |= {"assignment": assignment} if assignment else {}
        answer = self.http.post("/v1/submissions", data=data, headers=bearer(token))
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        who = self.teacher if token is None else token
        answer: httpx.Response = self.http.get(path, params=params, headers=bearer(who))
        return answer

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        who = self.teacher if token is None else token
        answer: httpx.Response = self.http.post(path, json=body, headers=bearer(who))
        return answer

    def ok(self, path: str, token: str | None = None, **params: Any) -> Any:
        answer = self.get(path, token, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def detail(self, submission_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.ok(f"/v1/course/submissions/{submission_id}")
        return body

    def override(self, submission_id: str, score: float, reason: str) -> httpx.Response:
        path = f"/v1/course/submissions/{submission_id}/override"
        return self.post(path, {"score": score, "reason": reason})

    def regrade(self, **body: Any) -> dict[str, Any]:
        answer = self.post("/v1/course/regrade", body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def set_rows(self, ids: list[str], **values: Any) -> None:
        """Change stored rows directly: a state the test needs that no route makes at once."""
        with self.app.sessions() as session:
            session.execute(update(Submission).where(Submission.id.in_(ids)).values(**values))
            session.commit()


MakeClassroom = Callable[..., Classroom]


def open_classroom(
    make_app: Callable[..., InProcess],
    folder: Path,
    bank: Bank,
    documents: tuple[dict[str, Any], ...],
    **options: Any,
) -> Classroom:
    """The app with `documents` as its assignments (written to `folder`), graded inline, the
    clock a day after `quiz()` opens, and an instructor of COURSE."""
    folder.mkdir()
    for document in documents:
        (folder / f"{document['id']}.yaml").write_text(json.dumps(document), encoding="utf-8")
    catalog = load_catalog(folder, bank)
    assert not catalog.issues, catalog.issues
    settings = {"grading": "inline", "student_burst": 100} | options
    app = make_app(catalog=catalog, **settings)
    clock = Clock(OPENS + timedelta(days=1))
    app.state.clock = clock
    return Classroom(app, clock, app.instructor(TEACHER, COURSE))


@pytest.fixture
def make_classroom(
    make_app: Callable[..., InProcess], tmp_path: Path, course_bank: Bank
) -> MakeClassroom:
    """`make_classroom(*assignment_documents, **make_app_options)`: default `quiz()` and another
    course's `other-quiz`."""

    def make(*documents: dict[str, Any], **options: Any) -> Classroom:
        folder = tmp_path / f"assignments-{secrets.token_hex(4)}"
        chosen = documents or (quiz(), quiz("other-quiz", course=OTHER))
        return open_classroom(make_app, folder, course_bank, chosen, **options)

    return make


@pytest.fixture
def room(make_classroom: MakeClassroom) -> Classroom:
    return make_classroom()


@pytest.fixture
def fix_item(room: Classroom) -> Iterator[Callable[..., None]]:
    """`fix_item(item_id, **changes)`: the bank's item replaced by a changed copy, as after an
    author's fix; the original is put back after the test (the bank is the session's)."""
    items = room.app.state.bank.items
    saved: dict[str, Any] = {}

    def fix(item_id: str, **changes: Any) -> None:
        item_id = room.app.state.bank.aliases.get(item_id, item_id)  # a fixed variant's item
        saved.setdefault(item_id, items[item_id])
        items[item_id] = items[item_id].model_copy(update=changes)

    yield fix
    items.update(saved)


def lms_server(room: Classroom) -> Served:
    """An LMS client `canvas` of this app, allowed to call back to 127.0.0.1."""
    with room.app.sessions() as session:
        secret = lms_clients.add_client(session, "canvas", ["127.0.0.1"])

    def post_raw(body: bytes, headers: dict[str, str]) -> httpx.Response:
        answer: httpx.Response = room.http.post(
            "/v1/lms/submissions", content=body, headers=headers
        )
        return answer

    return Served(room.app.sessions, secret, post_raw, room.app.db_url)


def lms_submission(room: Classroom, choice: str = FREE_WRONG, **fields: Any) -> str:
    """A submission of this course's from the LMS (practice unless `fields` say otherwise),
    graded, its callback owed."""
    server = lms_server(room)
    body = lms_body(
        "http://127.0.0.1:9/hook",
        **({"question": FREE, "choice": choice, "course": COURSE} | fields),
    )
    answer = post(server, server.first_secret, body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def the_delivery(room: Classroom, submission_id: str) -> Delivery:
    with room.app.sessions() as session:
        found = session.scalar(select(Delivery).where(Delivery.submission_id == submission_id))
    assert found is not None
    return found


# -- who may call what ---------------------------------------------------------------------------


def course_routes(room: Classroom, submission_id: str) -> list[tuple[str, str]]:
    """Every `/v1/course` route the app has (method, path with a real id): new ones included."""
    paths = room.app.app.openapi()["paths"]
    return sorted(
        (method.upper(), path.replace("{submission_id}", submission_id))
        for path, methods in paths.items()
        if path.startswith("/v1/course/")
        for method in methods
    )


def call(room: Classroom, method: str, path: str, token: str | None) -> httpx.Response:
    bodies = {"override": {"score": 1, "reason": "r"}, "regrade": {"question": MCQ}}
    body = next((b for end, b in bodies.items() if path.endswith(end)), None)
    answer: httpx.Response = room.http.request(method, path, json=body, headers=bearer(token))
    return answer


def test_a_students_token_is_refused_on_every_course_route(room):
    student = room.student()
    submission = room.submit(student, WRONG)
    routes = course_routes(room, submission)
    assert {path.rsplit("/", 1)[-1] for _, path in routes} >= {
        "submissions",
        submission,
        "file",
        "override",
        "regrade",
        "gradebook",
        "stats",
    }
    for method, path in routes:
        reason = error(call(room, method, path, student), 403)
        assert reason == "this route needs an instructor's token for the course", path
    assert room.app.row(submission).version == 1  # nothing was changed or queued


def expiring(room: Classroom, name: str, course: str, role: str, seconds: float) -> str:
    at = room.clock().timestamp() + seconds
    with room.app.sessions() as session:
        return tokens.create_token(session, name, course, role=role, expires_at=at)


@pytest.mark.parametrize("role", [tokens.INSTRUCTOR, tokens.STUDENT])
def test_missing_unknown_revoked_and_expired_tokens_get_401_with_the_reason(room, role):
    path = "/v1/course/submissions" if role == tokens.INSTRUCTOR else "/v1/submissions"
    soon = expiring(room, "soon", COURSE, role, 60)
    revoked = expiring(room, "gone", COURSE, role, 3600)
    assert room.get(path, soon).status_code == 200
    assert room.get(path, revoked).status_code == 200
    with room.app.sessions() as session:
        found = tokens.find_token(session, revoked)
        assert found is not None
        assert tokens.revoke(session, ids=[found.id]) == 1
    room.clock.now += timedelta(seconds=60)  # expires_at itself is past
    cases = {
        None: "send `Authorization: Bearer TOKEN` (from `grader tokens create`)",
        "gt_nobody": "unknown token; ask your instructor for a new one",
        revoked: "this token was revoked; ask your instructor for a new one",
        soon: "this token has expired; ask your instructor for a new one",
    }
    for token, reason in cases.items():
        answer = room.http.get(path, headers=bearer(token))
        assert error(answer, 401) == reason
        assert answer.headers["www-authenticate"] == "Bearer"


def test_an_instructors_token_is_refused_on_the_student_routes(room):
    submission = room.submit(room.student(), WRONG)
    headers = bearer(room.teacher)
    answers = [
        room.http.post("/v1/submissions", data={"question": FREE, "choice": "A"}, headers=headers),
        room.http.get("/v1/submissions", headers=headers),
        room.http.get(f"/v1/submissions/{submission}", headers=headers),
        room.http.get("/v1/assignments", headers=headers),
    ]
    for answer in answers:
        assert error(answer, 403) == "this route is for students; instructors use /v1/course/..."
    assert [row["id"] for row in room.ok("/v1/course/submissions")["items"]] == [submission]


def test_another_courses_submission_answers_as_an_unknown_one(room):
    theirs = room.submit(room.student(course=OTHER), WRONG, assignment="other-quiz")
    mine = room.submit(room.student(), WRONG)
    unknown = "sub_" + "x" * 22

    def same_404(method: str, path: str, body: dict[str, Any] | None = None) -> None:
        got = room.http.request(method, path, json=body, headers=bearer(room.teacher))
        want_path = path.replace(theirs, unknown)
        want = room.http.request(method, want_path, json=body, headers=bearer(room.teacher))
        assert error(got, 404).replace(theirs, unknown) == error(want, 404), path

    same_404("GET", f"/v1/course/submissions/{theirs}")
    same_404("GET", f"/v1/course/submissions/{theirs}/file")
    same_404("POST", f"/v1/course/submissions/{theirs}/override", {"score": 1, "reason": "r"})
    regrade = room.post("/v1/course/regrade", {"submission": theirs, "force": True})
    unknown_regrade = room.post("/v1/course/regrade", {"submission": unknown, "force": True})
    assert error(regrade, 404).replace(theirs, unknown) == error(unknown_regrade, 404)
    assert room.app.row(theirs).version == 1 and room.app.row(theirs).gradings == 1
    assert (room.app.row(theirs).report or {})["override"] is None
    listed = [row["id"] for row in room.ok("/v1/course/submissions")["items"]]
    assert listed == [mine]


# -- listing the course's submissions ------------------------------------------------------------


def test_listing_filters_by_student_question_assignment_verdict_status_and_since(room):
    alice, bob = room.student("alice"), room.student("bob")
    a_wrong = room.submit(alice, WRONG)
    a_right = room.submit(alice, KEY)
    b_numeric = room.submit(bob, "0.85", question=NUMERIC)
    a_practice = room.submit(alice, FREE_KEY, question=FREE, assignment=None)
    room.submit(room.student("alice", course=OTHER), KEY, assignment="other-quiz")  # not ours
    for at, submission in enumerate([a_wrong, a_right, b_numeric, a_practice], start=1):
        room.set_rows([submission], created_at=1000.0 * at)
    room.set_rows([b_numeric], status="queued")

    def ids(**params: Any) -> list[str]:
        return [row["id"] for row in room.ok("/v1/course/submissions", **params)["items"]]

    assert ids() == [a_wrong, a_right, b_numeric, a_practice]
    assert ids(student="alice") == [a_wrong, a_right, a_practice]
    assert ids(question=MCQ) == [a_wrong, a_right]
    assert ids(assignment="quiz") == [a_wrong, a_right, b_numeric]
    assert ids(verdict="PASSED") == [a_right, b_numeric, a_practice]
    assert ids(verdict="WRONG_ANSWER", student="alice") == [a_wrong]
    assert ids(status="queued") == [b_numeric]
    assert ids(status="done", assignment="quiz") == [a_wrong, a_right]
    assert ids(since="2000") == [a_right, b_numeric, a_practice]
    assert ids(since="2000.5") == [b_numeric, a_practice]
    assert ids(since="1970-01-01T00:50:00Z") == [b_numeric, a_practice]  # 3000 s
    assert ids(since="1970-01-01T01:50:00+01:00") == [b_numeric, a_practice]
    assert ids(student="nobody") == []
    first = room.ok("/v1/course/submissions", student="alice", question=MCQ)["items"][1]
    assert first == {
        "id": a_right,
        "student": "alice",
        "question": MCQ,
        "assignment": "quiz",
        "attempt": 2,
        "status": "done",
        "verdict": "PASSED",
        "score": 1.0,
        "max_score": 1.0,
        "late_penalty": 0.0,
        "version": 1,
        "overridden": False,
        "created_at": 2000.0,
        "finished_at": first["finished_at"],
    }
    assert isinstance(first["finished_at"], float)


def test_since_without_a_zone_is_utc_whatever_the_servers_zone(room, monkeypatch):
    submission = room.submit(room.student(), WRONG)
    room.set_rows([submission], created_at=7200.0)  # 1970-01-01T02:00:00Z
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        at = room.ok("/v1/course/submissions", since="1970-01-01T02:00:00")["items"]
        after = room.ok("/v1/course/submissions", since="1970-01-01T02:00:01")["items"]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [row["id"] for row in at] == [submission] and after == []


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"since": "yesterday"}, "since: 'yesterday' is neither Unix seconds nor ISO 8601"),
        ({"verdict": "GREAT"}, "verdict: Input should be"),
        ({"status": "lost"}, "status: Input should be 'queued', 'running' or 'done'"),
        ({"limit": "0"}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "501"}, "limit: Input should be less than or equal to 500"),
        ({"cursor": "bm9wZQ"}, "cursor: not a cursor this server gave; start again without it"),
        ({"cursor": "!!"}, "cursor: not a cursor this server gave; start again without it"),
    ],
    ids=["since", "verdict", "status", "limit-0", "limit-501", "cursor-json", "cursor-base64"],
)
def test_listing_refuses_malformed_parameters_in_one_line(room, params, reason):
    assert reason in error(room.get("/v1/course/submissions", **params), 422)


def pages(room: Classroom, path: str, token: str | None, **params: Any) -> list[list[str]]:
    """The ids of every page, following `next` to the end."""
    found: list[list[str]] = []
    while True:
        body = room.ok(path, token, **params)
        found.append([row["id"] for row in body["items"]])
        if body["next"] is None:
            return found
        params["cursor"] = body["next"]
        assert len(found) < 20, "paging does not end"


def test_pages_give_every_row_once_in_order(room):
    students = [room.student() for _ in range(4)]
    made = [room.submit(token, choice) for token in students for choice in (WRONG, KEY)]
    # Three share one instant, so the order within it is the id's; the rest are apart.
    instants = [10.0, 20.0, 20.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    for submission, at in zip(made, instants, strict=True):
        room.set_rows([submission], created_at=at)
    expected = sorted(made, key=lambda s: (instants[made.index(s)], s))
    found = pages(room, "/v1/course/submissions", None, limit=3)
    assert [len(page) for page in found] == [3, 3, 2]
    assert [s for page in found for s in page] == expected
    exact = pages(room, "/v1/course/submissions", None, limit=4)
    assert [len(page) for page in exact] == [4, 4]  # a full last page still ends with next: null
    late = room.submit(room.student(), KEY)  # a row arriving mid-way joins at the end
    first = room.ok("/v1/course/submissions", limit=3)
    rest = pages(room, "/v1/course/submissions", None, limit=3, cursor=first["next"])
    assert [row["id"] for row in first["items"]] + [s for page in rest for s in page] == [
        *expected,
        late,
    ]


# -- the student's own list ----------------------------------------------------------------------


def test_a_student_lists_only_their_own_newest_first_in_pages(room):
    alice, bob = room.student("alice"), room.student("bob")
    mine = [
        room.submit(alice, WRONG),
        room.submit(alice, FREE_KEY, question=FREE, assignment=None),
        room.submit(alice, KEY),
        room.submit(alice, "0.85", question=NUMERIC),
        room.submit(alice, WRONG),
    ]
    room.submit(bob, KEY)
    for at, submission in enumerate(mine):
        room.set_rows([submission], created_at=100.0 + at)
    newest = list(reversed(mine))
    found = pages(room, "/v1/submissions", alice, limit=2)
    assert found == [newest[0:2], newest[2:4], newest[4:]]
    assert pages(room, "/v1/submissions", alice, question=MCQ) == [[mine[4], mine[2], mine[0]]]
    assert pages(room, "/v1/submissions", alice, assignment="quiz", limit=10) == [
        [mine[4], mine[3], mine[2], mine[0]]
    ]
    assert pages(room, "/v1/submissions", bob) != pages(room, "/v1/submissions", alice)
    assert len(pages(room, "/v1/submissions", bob)[0]) == 1
    assert "cursor" in error(room.get("/v1/submissions", alice, cursor="zzz"), 422)


def test_the_list_shows_each_submission_as_the_single_read_does(make_classroom):
    room = make_classroom(quiz(reveal={"mcq": HIDDEN}))
    alice = room.student()
    hidden = room.submit(alice, WRONG)
    practice = room.submit(alice, FREE_WRONG, question=FREE, assignment=None)
    listed = {row["id"]: row for row in room.ok("/v1/submissions", alice)["items"]}
    for submission in (hidden, practice):
        assert listed[submission] == room.ok(f"/v1/submissions/{submission}", alice)
    assert listed[hidden]["revealed"] == "verdict" and no_key(listed[hidden]["report"])
    assert listed[hidden]["report"]["max_score"] == 5.0
    assert listed[practice]["report"]["explanation"]  # practice: the whole report
    assert listed[practice]["report"]["checks"][0]["expected"] == FREE_KEY
    whole = room.detail(hidden)["report"]  # the instructor reads the key the student cannot
    assert whole["explanation"] and whole["checks"][0]["expected"] == KEY


# -- reading one submission ----------------------------------------------------------------------


def test_the_instructor_reads_the_file_and_a_choice_has_none(room):
    token = room.student()
    content = b"def precision(tp, fp):\n    return tp / (tp + fp)\n"
    answer = room.http.post(
        "/v1/submissions",
        data={"question": CODE},
        files={"file": ("my model.py", content)},
        headers=bearer(token),
    )
    assert answer.status_code == 202, answer.text
    code = answer.json()["id"]
    got = room.get(f"/v1/course/submissions/{code}/file")
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-disposition"] == 'attachment; filename="my_model.py"'
    assert room.detail(code)["filename"] == "my model.py"
    choice = room.submit(token, WRONG)
    assert "sent a choice, not a file" in error(
        room.get(f"/v1/course/submissions/{choice}/file"), 404
    )
    assert room.detail(choice)["choice"] == WRONG and room.detail(choice)["filename"] is None


# -- overrides -----------------------------------------------------------------------------------


def test_an_override_is_a_new_version_the_student_reads_with_its_reason(room):
    alice = room.student("alice")
    submission = room.submit(alice, WRONG)
    before = time.time()
    answer = room.override(submission, 0.6, "  option B was also defensible  ")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["version"], body["overridden"], body["score"], body["verdict"]) == (
        2,
        True,
        0.6,
        "WRONG_ANSWER",
    )
    assert body["report"]["override"] == {
        "score": 0.6,
        "graded_score": 0.0,
        "reason": "option B was also defensible",
    }
    history = [(v["version"], v["change"], v["by"], v["reason"]) for v in body["history"]]
    assert history == [
        (1, "graded", "grader", None),
        (2, "override", TEACHER, "option B was also defensible"),
    ]
    old, new = body["history"]
    assert (old["report"]["score"], new["report"]["score"]) == (0.0, 0.6)
    assert old["report"]["override"] is None
    assert old["at"] <= before <= new["at"] <= time.time()
    assert room.detail(submission) == body
    view = room.ok(f"/v1/submissions/{submission}", alice)
    assert view["version"] == 2 and view["report"]["score"] == 3.0  # 0.6 of the quiz's 5 points
    assert view["report"]["override"] == {  # on the assignment's scale, as the score is
        "score": 3.0,
        "graded_score": 0.0,
        "reason": "option B was also defensible",
    }
    listed = room.ok("/v1/course/submissions")["items"][0]
    assert (listed["overridden"], listed["score"], listed["version"]) == (True, 0.6, 2)
    again = room.override(submission, 1.0, "full marks after all").json()
    assert again["version"] == 3
    assert again["report"]["override"] == {
        "score": 1.0,
        "graded_score": 0.0,  # still the grader's, not the previous override's
        "reason": "full marks after all",
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"score": -0.1, "reason": "r"}, "score: must be between 0 and 1, this report's points"),
        ({"score": 1.5, "reason": "r"}, "score: must be between 0 and 1, this report's points"),
        ({"score": 1, "reason": ""}, "reason: String should have at least 1 character"),
        ({"score": 1, "reason": "   "}, "reason: say why the score changes"),
        ({"score": 1}, "reason: Field required"),
        ({"score": "many", "reason": "r"}, "score: Input should be a valid number"),
        ({"score": 1, "reason": "r", "by": "x"}, "by: Extra inputs are not permitted"),
    ],
    ids=["negative", "over-max", "empty-reason", "blank-reason", "no-reason", "nan", "extra"],
)
def test_an_override_off_the_scale_or_without_a_reason_is_refused(room, body, reason):
    submission = room.submit(room.student(), WRONG)
    path = f"/v1/course/submissions/{submission}/override"
    assert reason in error(room.post(path, body), 422)
    assert room.app.row(submission).version == 1


def test_an_override_before_the_grading_is_refused_with_409(room):
    submission = room.submit(room.student(), WRONG)
    room.set_rows([submission], status="queued")  # waiting for a (re)grading
    reason = error(room.override(submission, 1, "r"), 409)
    assert reason == f"submission {submission} is not graded yet; override it once it is"
    assert len(room.detail(submission)["history"]) == 1


def test_an_override_rearms_the_lms_delivery_for_the_new_version(room):
    submission = lms_submission(room)
    first = the_delivery(room, submission)
    assert (first.state, first.version, first.attempts) == ("pending", 1, 0)
    assert payload(room.app.row(submission))["type"] == EVENT_TYPE
    with room.app.sessions() as session:  # as if the sender delivered it
        session.execute(update(Delivery).values(state="delivered", attempts=1, delivered_at=1.0))
        session.commit()
    assert room.override(submission, 1, "the photo was ambiguous").status_code == 200
    second = the_delivery(room, submission)
    assert (second.state, second.version, second.attempts) == ("pending", 2, 0)
    assert second.delivered_at is None and second.webhook_id not in (first.webhook_id, "")
    assert second.webhook_id.startswith("msg_") and second.id == first.id
    event = payload(room.app.row(submission))
    assert (event["type"], event["data"]["version"]) == (REGRADE_TYPE, 2)
    assert event["data"]["report"]["override"]["reason"] == "the photo was ambiguous"
    assert event["data"]["report"]["score"] == 1.0
    # Still pending when a newer version comes: the newer one replaces it, never sent after it.
    assert room.override(submission, 0.5, "half, on reflection").status_code == 200
    third = the_delivery(room, submission)
    assert (third.state, third.version) == ("pending", 3)
    assert third.webhook_id not in (first.webhook_id, second.webhook_id)
    with room.app.sessions() as session:
        assert len(list(session.scalars(select(Delivery)))) == 1


# -- regrades ------------------------------------------------------------------------------------


@both_stores
def test_a_regrade_queues_only_what_the_items_fix_changed(room, fix_item):
    alice, bob, carol = room.student("alice"), room.student("bob"), room.student("carol")
    a_wrong = room.submit(alice, WRONG)
    b_right = room.submit(bob, KEY)
    c_numeric = room.submit(carol, "0.85", question=NUMERIC)
    fix_item(MCQ, answer=WRONG, explanation="B, as the erratum says.")
    result = room.regrade(question=MCQ)
    assert result == {"queued": 2, "unchanged": 0, "pending": 0, "submissions": [a_wrong, b_right]}
    a_row, b_row, c_row = (room.app.row(s) for s in (a_wrong, b_right, c_numeric))
    assert (a_row.version, a_row.verdict, a_row.gradings) == (2, "PASSED", 2)
    assert (b_row.version, b_row.verdict) == (2, "WRONG_ANSWER")
    assert (c_row.version, c_row.gradings) == (1, 1)  # another item: untouched
    assert room.regrade(question=MCQ) == {
        "queued": 0,
        "unchanged": 2,
        "pending": 0,
        "submissions": [],
    }
    assert room.regrade(assignment="quiz")["unchanged"] == 3
    assert room.app.row(a_wrong).gradings == 2  # asking again graded nothing again
    history = room.detail(a_wrong)["history"]
    assert [(v["version"], v["change"], v["by"]) for v in history] == [
        (1, "graded", "grader"),
        (2, "regrade", TEACHER),
    ]
    assert [v["report"]["verdict"] for v in history] == ["WRONG_ANSWER", "PASSED"]
    assert history[1]["report"]["explanation"] == "B, as the erratum says."
    view = room.ok(f"/v1/submissions/{a_wrong}", alice)
    assert (view["version"], view["verdict"], view["report"]["score"]) == (2, "PASSED", 5.0)


def test_a_regrade_by_submission_by_assignment_and_forced(room, fix_item):
    token = room.student()
    mcq, numeric = room.submit(token, WRONG), room.submit(token, "0.5", question=NUMERIC)
    practice = room.submit(token, FREE_WRONG, question=FREE, assignment=None)
    assert room.regrade(submission=mcq)["unchanged"] == 1
    assert room.regrade(submission=mcq, force=True)["submissions"] == [mcq]
    assert room.app.row(mcq).version == 2
    fix_item(NUMERIC, explanation="Precision is TP / (TP + FP).")
    assert room.regrade(assignment="quiz") == {
        "queued": 1,
        "unchanged": 1,
        "pending": 0,
        "submissions": [numeric],
    }
    forced = room.regrade(assignment="quiz", force=True)
    assert forced["submissions"] == [mcq, numeric] and forced["unchanged"] == 0
    assert (room.app.row(mcq).version, room.app.row(numeric).version) == (3, 3)
    assert room.app.row(practice).version == 1  # practice work is in no assignment


def test_stats_of_another_courses_assignment_answer_404(room):
    room.submit(room.student(), WRONG)
    assert room.ok("/v1/course/stats", assignment="quiz")["students"] == 1
    reason = error(room.get("/v1/course/stats", assignment="other-quiz"), 404)
    assert reason == error(room.get("/v1/course/stats", assignment="nope"), 404).replace(
        "nope", "other-quiz"
    )


def test_work_being_regraded_still_counts_in_the_stats(room):
    submissions = [room.submit(room.student(), choice) for choice in (KEY, WRONG)]
    before = room.ok("/v1/course/stats", assignment="quiz")
    room.set_rows(submissions[:1], status="queued")  # as while its regrade waits
    during = room.ok("/v1/course/stats", assignment="quiz")
    assert during == before
    assert [item["attempts"] for item in during["items"]] == [2, 0]
    assert during["items"][0]["facility_first"] == 0.5


def test_a_submission_waiting_for_a_grading_is_not_queued_twice(room):
    submission = room.submit(room.student(), WRONG)
    room.set_rows([submission], status="queued")
    result = room.regrade(question=MCQ, force=True)
    assert result == {"queued": 0, "unchanged": 0, "pending": 1, "submissions": []}
    assert room.app.row(submission).gradings == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({}, 422, "name exactly one of submission, question or assignment"),
        ({"question": MCQ, "assignment": "quiz"}, 422, "name exactly one of"),
        ({"force": True}, 422, "name exactly one of"),
        ({"question": MCQ, "why": "x"}, 422, "why: Extra inputs are not permitted"),
        ({"question": "nope"}, 404, "unknown question id 'nope'"),
        ({"assignment": "nope"}, 404, "unknown assignment 'nope'"),
        ({"assignment": "other-quiz"}, 404, "unknown assignment 'other-quiz'"),
        ({"submission": "sub_nope"}, 404, "no submission 'sub_nope'"),
    ],
    ids=[
        "none",
        "two",
        "force-only",
        "extra",
        "unknown-question",
        "unknown-assignment",
        "other-courses-assignment",
        "unknown-submission",
    ],
)
def test_a_regrade_names_exactly_one_known_thing(room, body, status, reason):
    submission = room.submit(room.student(), WRONG)
    assert reason in error(room.post("/v1/course/regrade", body | {"force": True}), status)
    assert room.app.row(submission).version == 1


@both_stores
def test_an_override_survives_a_regrade(room, fix_item):
    alice = room.student()
    submission = room.submit(alice, WRONG)
    assert room.override(submission, 0.5, "partly right").status_code == 200
    fix_item(MCQ, answer=WRONG)  # the grader now gives it full marks
    assert room.regrade(submission=submission)["queued"] == 1
    body = room.detail(submission)
    assert body["version"] == 3 and body["verdict"] == "PASSED" and body["score"] == 0.5
    assert body["report"]["override"] == {
        "score": 0.5,
        "graded_score": 1.0,
        "reason": "partly right",
    }
    assert [v["change"] for v in body["history"]] == ["graded", "override", "regrade"]
    assert body["history"][2]["report"]["override"]["graded_score"] == 1.0
    view = room.ok(f"/v1/submissions/{submission}", alice)
    assert (view["version"], view["report"]["score"]) == (3, 2.5)


def test_a_regrade_the_grader_cannot_complete_keeps_the_report_and_tries_again(
    room, fix_item, monkeypatch
):
    alice = room.student()
    submission = room.submit(alice, KEY)
    fix_item(MCQ, explanation="Reworded.")

    def broken(*args: Any) -> Any:
        raise GraderError("the reference store is unreadable")

    with monkeypatch.context() as patch:
        patch.setattr(grading, "_grade", broken)
        assert room.regrade(question=MCQ)["queued"] == 1
    row = room.app.row(submission)
    assert (row.status, row.version, row.verdict, row.gradings) == ("done", 1, "PASSED", 2)
    assert [v["change"] for v in room.detail(submission)["history"]] == ["graded"]
    assert room.regrade(question=MCQ)["queued"] == 1  # still changed: asked again, it regrades
    row = room.app.row(submission)
    assert (row.version, row.verdict, row.report["explanation"]) == (2, "PASSED", "Reworded.")


@both_stores
def test_a_regrade_rearms_the_lms_delivery_as_regraded(room, fix_item):
    submission = lms_submission(room, FREE_WRONG)
    first = the_delivery(room, submission)
    assert first.version == 1
    item = room.app.state.bank.items[FREE]
    assert isinstance(item, McqItem) and item.answer == FREE_KEY
    fix_item(FREE, answer=FREE_WRONG)
    assert room.regrade(submission=submission)["queued"] == 1
    second = the_delivery(room, submission)
    assert (second.state, second.version, second.attempts) == ("pending", 2, 0)
    assert second.webhook_id != first.webhook_id
    event = payload(room.app.row(submission))
    assert (event["type"], event["data"]["version"]) == (REGRADE_TYPE, 2)
    assert event["data"]["report"]["verdict"] == "PASSED"


# -- found by the attack review -------------------------------------------------------------


FAKE = FakeSandbox(lambda request: result())


def test_another_courses_student_of_the_same_name_is_someone_else(room):
    alice_a = room.student("alice", course=COURSE)
    alice_b = room.student("alice", course=OTHER)
    theirs = room.submit(alice_b, KEY, assignment="other-quiz")
    assert room.ok("/v1/submissions", alice_a)["items"] == []
    assert room.get(f"/v1/submissions/{theirs}", alice_a).status_code == 404
    nobody = room.student("alice", course=None)
    assert room.ok("/v1/submissions", nobody)["items"] == []
    assert [row["id"] for row in room.ok("/v1/submissions", alice_b)["items"]] == [theirs]


@both_stores
def test_a_grading_left_over_from_before_a_regrade_is_not_written_as_it(room, fix_item):
    """Workers A and B both held the first grading (a redelivered task); A wrote version 1, the
    item was fixed and regraded; B's late report (begun at version 0) must not become the
    regrade, and the regrade's own grading still runs."""
    sub = room.submit(room.student(), WRONG)
    stale = dict(room.app.row(sub).report or {})
    fix_item(MCQ, answer=WRONG)
    room.app.state.dispatcher.dispatch = lambda *args: None  # hold the regrade in the queue
    assert room.regrade(submission=sub)["queued"] == 1
    with room.app.sessions() as session:
        assert not store.finish(session, sub, stale, "before-the-fix", version=0)
    assert room.app.row(sub).status == "queued"
    solutions = room.app.state.settings.grader.solutions
    assert grading.run_job(room.app.sessions, room.app.state.bank, sub, FAKE, "worker-c")
    row = room.app.row(sub)
    assert (row.version, row.verdict) == (2, "PASSED")
    assert row.fingerprint == item_fingerprint(room.app.state.bank, MCQ, solutions)


def test_the_gradebook_reads_only_its_own_courses_rows(make_classroom, tmp_path, course_bank):
    """An assignment id that moves to another course (next term's file) brings no rows along."""
    room = make_classroom(quiz(), quiz("other-quiz", course=OTHER))
    room.submit(room.student("bob", course=COURSE), KEY)
    folder = tmp_path / "next-term"
    folder.mkdir()
    (folder / "quiz.yaml").write_text(json.dumps(quiz(course=OTHER)))
    room.app.state.catalog = load_catalog(folder, course_bank)
    other = room.app.instructor("prof-b", OTHER)
    assert room.ok("/v1/course/gradebook", other)["rows"] == []


def test_a_delivered_report_is_owed_again_whole_for_a_new_version(room):
    submission = lms_submission(room, FREE_WRONG)
    with room.app.sessions() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.submission_id == submission)
            .values(state="delivered", delivered_at=123.0, last_status=200, attempts=1)
        )
        session.commit()
    assert room.override(submission, 0.5, "partly").status_code == 200
    again = the_delivery(room, submission)
    assert (again.state, again.delivered_at, again.last_status, again.attempts) == (
        "pending",
        None,
        None,
        0,
    )
    assert again.version == 2


@both_stores
def test_a_regrade_asked_twice_at_once_queues_once(room, fix_item):
    """The second request read the row before the first regraded it: it queues nothing."""
    sub = room.submit(room.student(), WRONG)
    fix_item(MCQ, answer=WRONG)
    stale = room.app.row(sub)  # read by the second request: graded, version 1, old fingerprint
    assert room.regrade(question=MCQ)["queued"] == 1  # the first: regraded (inline) to version 2
    bank = room.app.state.bank
    solutions = room.app.state.settings.grader.solutions
    with room.app.sessions() as session:
        late = versions.request_regrade(
            session, [stale], lambda item: item_fingerprint(bank, item, solutions), "b", False
        )
    assert (late.queued, late.pending) == ([], 1)
    assert room.app.row(sub).gradings == 2


def test_an_lms_student_id_with_control_characters_is_refused(room):
    served = lms_server(room)
    body = lms_body("http://127.0.0.1:9/hook", question=FREE, student="ann\x1b[2J")
    answer = post(served, served.first_secret, body)
    assert error(answer, 422) == "student: must be printable characters (no control characters)"


def test_revoking_a_students_tokens_leaves_an_instructor_of_that_name(room):
    with room.app.sessions() as session:
        student = tokens.create_token(session, "sam", COURSE)
        teacher = tokens.create_token(session, "sam", COURSE, role=tokens.INSTRUCTOR)
        assert tokens.revoke(session, student="sam", course=COURSE) == 1
    assert room.get("/v1/submissions", student).status_code == 401
    assert room.get("/v1/course/submissions", teacher).status_code == 200
