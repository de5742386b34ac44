"""Variants on the course server: each student answers their own numbers and is graded on them.

A small bank of its own (in the module's tmp folder) replaces the course's for this module: a
numeric item whose two factors are drawn per student, with a fixed variant and a plain former id,
a shuffled mcq, and a static item. The app runs in process, graded inline (a read right after a
submit sees the report). The variant secret is the store's own, so each test's numbers are new:
the tests read them from the server (`GET /v1/items/{id}/variant`), as a student does. Where the
store is the point (the secret made once under concurrency, 32-bit seeds, the key test) the test
runs on SQLite and PostgreSQL; migration 0006 is run up and down on SQLite.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from grader.bank import Bank, load_bank
from grader.cli import client
from grader.courses.catalog import Catalog, load_catalog
from grader.errors import BadInput
from grader.models.assignment import Assignment
from grader.service import lms_clients, store, variants
from grader.service.db import (
    ServerSecret,
    Submission,
    alembic_config,
    make_engine,
    open_store,
)
from grader.service.store import NewSubmission
from grader.service.webhooks import signed_headers
from tests.service.conftest import InProcess, StoreUrl, TestClient, bearer, both_stores

COURSE = "c1"
ITEM = "product"
OLD_ID = "product-12-by-34"  # a fixed variant: 12 x 34, whoever asks
RENAMED = "multiply"  # a plain former id: varies as the item does
MCQ = "shuffled-layers"
STATIC = "static-sum"
LMS_HOST = "lms.example"

PRODUCT = """\
schema_version: 1
id: product
kind: numeric
title: A product
difficulty: easy
params:
  a: {int: [1000, 9999]}
  b: {int: [1000, 9999]}
aliases:
  - {id: product-12-by-34, params: {a: 12, b: 34}}
  - multiply
prompt: "What is {{ a }} times {{ b }}?"
answer: "{{ a * b }}"
tolerance:
  absolute: 0.5
explanation: "{{ a }} x {{ b }} = {{ a * b }}."
"""

SHUFFLED = """\
schema_version: 1
id: shuffled-layers
kind: mcq
title: The last layer
difficulty: easy
prompt: Which attribute holds the last layer of a torchvision ResNet18?
shuffle: true
choices:
  - {id: classifier, text: model.classifier, feedback: MobileNetV2's head.}
  - {id: fc, text: model.fc, feedback: Right.}
  - {id: head, text: model.head, feedback: A vision transformer's.}
  - {id: none, text: None of these, feedback: One of them is right., fixed: true}
answer: B
explanation: ResNets end with `fc`.
"""

STATIC_ITEM = """\
schema_version: 1
id: static-sum
kind: numeric
title: A sum
difficulty: easy
prompt: "What is 2 + 2? (Braces stay as written: {{ not a template }})"
answer: 4
tolerance:
  absolute: 0.5
explanation: Four.
"""


@pytest.fixture(scope="module")
def course_bank(tmp_path_factory: pytest.TempPathFactory) -> Bank:
    """This module's bank, in place of the course's (conftest's `make_app` serves it)."""
    folder = tmp_path_factory.mktemp("bank")
    for name, body in [(ITEM, PRODUCT), (MCQ, SHUFFLED), (STATIC, STATIC_ITEM)]:
        (folder / f"{name}.yaml").write_text(body, encoding="utf-8")
    bank = load_bank([folder])
    assert bank.issues == [], bank.issues
    return bank


def assignment(assignment_id: str, variants_rule: str) -> Assignment:
    """An assignment of the course, open now and for years, with the product item."""
    return Assignment.model_validate(
        {
            "schema_version": 1,
            "id": assignment_id,
            "title": assignment_id,
            "course": COURSE,
            "opens": "2020-01-01T00:00:00+00:00",
            "due": "2100-01-01T00:00:00+00:00",
            "variants": variants_rule,
            "items": [{"id": ITEM, "points": 2}, {"id": MCQ, "points": 1}],
        }
    )


CATALOG = Catalog(
    assignments={
        "each-student": assignment("each-student", "per-student"),
        "each-attempt": assignment("each-attempt", "per-attempt"),
    }
)


@dataclass
class Course:
    """The app with the catalog, and helpers that act as a student or the instructor."""

    app: InProcess

    @property
    def http(self) -> TestClient:
        return self.app.client

    def student(self, name: str) -> str:
        return self.app.token(name, COURSE)

    def variant(self, token: str, item: str = ITEM, **query: str) -> dict[str, Any]:
        answer = self.http.get(f"/v1/items/{item}/variant", params=query, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def submit(self, token: str, choice: str, item: str = ITEM, **form: str) -> dict[str, Any]:
        """Submit and read back the graded submission (graded inline)."""
        data = {"question": item, "choice": choice, **form}
        created = self.http.post("/v1/submissions", data=data, headers=bearer(token))
        assert created.status_code == 202, created.text
        read = self.http.get(created.headers["Location"], headers=bearer(token))
        assert read.status_code == 200, read.text
        view: dict[str, Any] = read.json()
        assert view["status"] == "done", view
        return view


@pytest.fixture
def course(make_app: Callable[..., InProcess]) -> Course:
    """Practice: no assignment guards the items."""
    return Course(make_app(grading="inline"))


@pytest.fixture
def quiz_course(make_app: Callable[..., InProcess]) -> Course:
    """The items in two assignments: `each-student` and `each-attempt`."""
    return Course(make_app(grading="inline", catalog=CATALOG))


def factors(view: dict[str, Any]) -> tuple[int, int]:
    """The two numbers a student's prompt asks to multiply."""
    found = re.fullmatch(r"What is (\d+) times (\d+)\?", view["prompt"].strip())
    assert found, view["prompt"]
    return int(found[1]), int(found[2])


def right_answer(view: dict[str, Any]) -> str:
    a, b = factors(view)
    return str(a * b)


@both_stores
def test_each_student_is_graded_on_their_own_numbers(course: Course) -> None:
    """THE test: two students see different numbers; each is right on their own; one's right
    answer is wrong for the other."""
    alice, bob = course.student("alice"), course.student("bob")
    mine, theirs = course.variant(alice), course.variant(bob)
    assert mine["id"] == theirs["id"] == ITEM
    assert isinstance(mine["seed"], int) and mine["seed"] != theirs["seed"]
    assert factors(mine) != factors(theirs)
    assert course.variant(alice) == mine, "the same student sees the same numbers again"

    graded = course.submit(alice, right_answer(mine))
    assert graded["verdict"] == "PASSED", graded["report"]
    assert course.submit(bob, right_answer(theirs))["verdict"] == "PASSED"
    copied = course.submit(bob, right_answer(mine))
    assert copied["verdict"] == "WRONG_ANSWER" and copied["report"]["score"] == 0

    a, b = factors(mine)
    stored = course.app.row(graded["id"])
    assert stored.seed == mine["seed"]
    assert graded["report"]["variant"]["seed"] == mine["seed"]
    assert graded["report"]["variant"]["values"] == {"a": a, "b": b}


def test_a_regrade_grades_the_same_variant(course: Course) -> None:
    alice = course.student("alice")
    mine = course.variant(alice)
    first = course.submit(alice, right_answer(mine))
    teacher = course.app.instructor("prof", COURSE)
    regraded = course.http.post(
        "/v1/course/regrade",
        json={"submission": first["id"], "force": True},
        headers=bearer(teacher),
    )
    assert regraded.status_code == 200 and regraded.json()["queued"] == 1, regraded.text
    row = course.app.row(first["id"])
    assert (row.version, row.seed, row.verdict) == (2, mine["seed"], "PASSED")
    assert row.report is not None and row.report["variant"]["seed"] == mine["seed"]


@both_stores
def test_per_attempt_each_attempt_is_a_new_variant(quiz_course: Course) -> None:
    """Under `variants: per-attempt` the variant shown before each attempt is the one graded,
    and each attempt's is new; under `per-student` every attempt is the practice variant."""
    course = quiz_course
    alice = course.student("alice")
    seeds, answers = [], []
    for _ in range(3):
        shown = course.variant(alice, assignment="each-attempt")
        graded = course.submit(alice, right_answer(shown), assignment="each-attempt")
        assert graded["verdict"] == "PASSED", graded["report"]
        assert course.app.row(graded["id"]).seed == shown["seed"]
        seeds.append(shown["seed"])
        answers.append(right_answer(shown))
    assert len(set(seeds)) == 3 and len(set(answers)) == 3

    practice = course.variant(alice)
    for attempt in (1, 2):
        shown = course.variant(alice, assignment="each-student")
        assert shown["seed"] == practice["seed"], attempt
        graded = course.submit(alice, right_answer(practice), assignment="each-student")
        assert (graded["attempt"], graded["verdict"]) == (attempt, "PASSED")
        assert course.app.row(graded["id"]).seed == practice["seed"]


def test_who_may_read_whose_variant(quiz_course: Course) -> None:
    course = quiz_course
    alice, bob = course.student("alice"), course.student("bob")
    teacher = course.app.instructor("prof", COURSE)
    mine = course.variant(alice)
    assert course.variant(teacher, student="alice") == mine
    assert course.variant(alice, student="alice") == mine
    next_attempt = course.variant(alice, assignment="each-attempt")
    assert course.variant(teacher, student="alice", assignment="each-attempt") == next_attempt

    def status(token: str, item: str = ITEM, **query: str) -> tuple[int, str]:
        got = course.http.get(f"/v1/items/{item}/variant", params=query, headers=bearer(token))
        return got.status_code, got.json()["error"]

    assert status(bob, student="alice") == (403, "a student reads only their own variant")
    assert status(teacher)[0] == 422 and "?student=ID" in status(teacher)[1]
    assert status(alice, item="no-such-item")[0] == 404
    assert status(alice, assignment="no-such-quiz")[0] == 404
    assert status(alice, item=STATIC, assignment="each-student")[0] == 422
    outsider = course.app.token("alice", "another-course")
    assert status(outsider, assignment="each-student")[0] == 404
    assert course.http.get(f"/v1/items/{ITEM}/variant").status_code == 401
    assert course.variant(outsider)["seed"] != mine["seed"], "another course's alice"


def test_the_client_fetches_a_variant_and_maps_a_refusal_to_bad_input(
    quiz_course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fetch_variant` (what `grader show --server` prints), answered by the app in process."""
    course = quiz_course

    def routed(base_url: str, headers: dict[str, str], timeout: float) -> TestClient:
        return TestClient(course.app.app, base_url=base_url, headers=headers)

    monkeypatch.setattr(client, "httpx", SimpleNamespace(Client=routed, HTTPError=httpx.HTTPError))
    alice, teacher = course.student("alice"), course.app.instructor("prof", COURSE)
    server = "http://testserver"
    assert client.fetch_variant(server, alice, ITEM) == course.variant(alice)
    each = course.variant(alice, assignment="each-attempt")
    assert client.fetch_variant(server, teacher, ITEM, "alice", "each-attempt") == each
    with pytest.raises(BadInput, match="only their own variant"):
        client.fetch_variant(server, course.student("bob"), ITEM, student="alice")
    with pytest.raises(BadInput, match="unknown question id"):
        client.fetch_variant(server, alice, "no-such-item")


def test_an_item_that_does_not_vary_has_no_seed(course: Course) -> None:
    alice = course.student("alice")
    static = course.variant(alice, item=STATIC)
    assert static["seed"] is None and "{{ not a template }}" in static["prompt"]
    graded = course.submit(alice, "4", item=STATIC)
    assert graded["verdict"] == "PASSED" and course.app.row(graded["id"]).seed is None
    assert graded["report"].get("variant") is None

    fixed = course.variant(alice, item=OLD_ID)
    assert (fixed["seed"], factors(fixed)) == (None, (12, 34))
    graded = course.submit(alice, "408", item=OLD_ID)
    assert graded["verdict"] == "PASSED", graded["report"]
    assert course.app.row(graded["id"]).seed is None
    assert graded["report"]["variant"]["values"] == {"a": 12, "b": 34}


def test_a_former_id_is_the_same_variant_and_a_fixed_one_is_an_assignments_item(
    course: Course, course_bank: Bank, tmp_path: Path
) -> None:
    alice = course.student("alice")
    assert course.variant(alice, item=RENAMED) == course.variant(alice)
    folder = tmp_path / "assignments"
    folder.mkdir()
    for listed in (OLD_ID, RENAMED):
        body = assignment(f"lists-{listed}", "per-student").model_dump(mode="json")
        body["items"] = [{"id": listed, "points": 1}]
        (folder / f"lists-{listed}.yaml").write_text(json.dumps(body), encoding="utf-8")
    catalog = load_catalog(folder, course_bank)
    assert list(catalog.assignments) == [f"lists-{OLD_ID}"]
    assert [issue.message for issue in catalog.issues] == [
        f"item {RENAMED!r} is now {ITEM!r}; list it by its id"
    ]


def test_a_shuffled_mcq_is_graded_in_the_students_order(course: Course) -> None:
    """Each student's letters are their own order's; the key (`fc`) is right under its letter,
    and the report names the options in the order that student saw them."""
    orders = set()
    for index in range(6):
        token = course.student(f"student-{index}")
        shown = course.variant(token, item=MCQ)
        texts = [choice["text"] for choice in shown["choices"]]
        assert texts[3] == "None of these", "a fixed choice keeps its place"
        orders.add(tuple(texts))
        letter = shown["choices"][texts.index("model.fc")]["letter"]
        graded = course.submit(token, letter, item=MCQ)
        assert graded["verdict"] == "PASSED", graded["report"]
        ids = {"model.classifier": "classifier", "model.fc": "fc", "model.head": "head"}
        assert graded["report"]["variant"]["choices"] == [ids.get(t, "none") for t in texts]
    assert len(orders) > 1, "six students, one order: the options are not shuffled"


def test_an_lms_submission_is_graded_on_the_students_variant(course: Course) -> None:
    with course.app.sessions() as session:
        secret = lms_clients.add_client(session, "moodle", [LMS_HOST])
    teacher = course.app.instructor("prof", COURSE)
    theirs = course.variant(teacher, student="s-7")
    body = {
        "question": ITEM,
        "student": "s-7",
        "course": COURSE,
        "submission_id": "lms-1",
        "callback_url": f"https://{LMS_HOST}/callback",
        "choice": right_answer(theirs),
    }
    raw = json.dumps(body).encode()
    sent = course.http.post(
        "/v1/lms/submissions",
        content=raw,
        headers=signed_headers(secret, "msg_1", raw, time.time()),
    )
    assert sent.status_code == 202, sent.text
    row = course.app.row(sent.json()["id"])
    assert (row.seed, row.verdict) == (theirs["seed"], "PASSED")


def test_item_statistics_count_every_variant_and_old_id_as_the_item(course: Course) -> None:
    """Two students' variants and a fixed variant are one item's attempts; a shuffled mcq's
    options are counted as the file's letters, whatever order each student saw."""
    teacher = course.app.instructor("prof", COURSE)
    for name in ("alice", "bob", "carol"):
        token = course.student(name)
        course.submit(token, right_answer(course.variant(token)))
        shown = course.variant(token, item=MCQ)
        texts = [choice["text"] for choice in shown["choices"]]
        course.submit(token, shown["choices"][texts.index("model.head")]["letter"], item=MCQ)
    course.submit(course.student("dave"), "408", item=OLD_ID)
    stats = course.http.get("/v1/course/stats", headers=bearer(teacher)).json()
    by_id = {item["id"]: item for item in stats["items"]}
    assert set(by_id) == {ITEM, MCQ}
    assert (by_id[ITEM]["students"], by_id[ITEM]["facility_first"]) == (4, 1.0)
    options = {option["letter"]: option["picked"] for option in by_id[MCQ]["options"]}
    assert options == {"A": 0, "B": 0, "C": 3, "D": 0}, "model.head is the file's C"
    assert [o["correct"] for o in by_id[MCQ]["options"]] == [False, True, False, False]


# The store: the secret, and migration 0006.


@both_stores
def test_the_secret_is_made_once_by_concurrent_servers(store_url: StoreUrl) -> None:
    """Eight "servers" (their own engines) ask for the secret at once: one row, one secret."""
    url = store_url()
    factories = [open_store(url) for _ in range(8)]
    start = threading.Barrier(len(factories))
    found: list[bytes] = []

    def ask(sessions: Any) -> None:
        start.wait()
        found.append(variants.stored_secret(sessions))

    threads = [threading.Thread(target=ask, args=(f,)) for f in factories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(found) == 8 and len(set(found)) == 1 and len(found[0]) == 32
        with factories[0]() as session:
            assert len(session.scalars(select(ServerSecret)).all()) == 1
        assert variants.variant_secret(factories[0]) == found[0]
    finally:
        for sessions in factories:
            sessions.kw["bind"].dispose()


@both_stores
def test_the_store_keeps_a_32_bit_seed_made_from_the_attempt_number(store_url: StoreUrl) -> None:
    """`seeding` is told the attempt number the store took; the largest seed fits the column."""
    sessions = open_store(store_url())
    told: list[int | None] = []

    def seeding(attempt: int | None) -> int:
        told.append(attempt)
        return 2**32 - 1 - (attempt or 0)

    new = NewSubmission(ITEM, "alice", choice="1", assignment="quiz", seeding=seeding)
    try:
        ids = [store.add_counted(sessions, new, limit=None).id for _ in range(2)]
        with sessions() as session:
            seeds = [session.get(Submission, i).seed for i in ids]
    finally:
        sessions.kw["bind"].dispose()
    assert told == [1, 2] and seeds == [2**32 - 2, 2**32 - 3]


@pytest.fixture
def at_0005(tmp_path: Path) -> Iterator[str]:
    """A SQLite store at 0005 with a graded LMS submission whose callback is owed (a row other
    tables point at, which a rebuild of `submissions` must keep)."""
    url = f"sqlite:///{tmp_path / 'grader.db'}"
    command.upgrade(alembic_config(url), "0005")
    engine = make_engine(url)
    with engine.begin() as db:
        db.execute(
            text("INSERT INTO lms_clients (name, callback_hosts, created_at) VALUES ('l', '[]', 1)")
        )
        db.execute(
            text(
                "INSERT INTO submissions (id, question, student, queue, status, attempts, "
                "created_at, gradings, version, client_id) "
                "VALUES ('sub_1', 'q', 'alice', 'cpu', 'done', 1, 1.0, 1, 1, 1)"
            )
        )
        db.execute(
            text(
                "INSERT INTO deliveries (submission_id, client_id, url, webhook_id, state, "
                "attempts, next_attempt_at, version) VALUES ('sub_1', 1, 'http://l/h', 'msg_1', "
                "'pending', 0, 1.0, 1)"
            )
        )
    engine.dispose()
    yield url


def columns(url: str) -> tuple[list[str], list[str]]:
    engine = make_engine(url)
    try:
        found = inspect(engine)
        names = [column["name"] for column in found.get_columns("submissions")]
        return found.get_table_names(), names
    finally:
        engine.dispose()


def test_migration_0006_up_and_down(at_0005: str) -> None:
    url = at_0005
    command.upgrade(alembic_config(url), "0006")
    tables, submission_columns = columns(url)
    assert "server_secrets" in tables and "seed" in submission_columns
    engine = make_engine(url)
    with engine.begin() as db:
        assert db.execute(text("SELECT seed FROM submissions")).scalar_one() is None
        db.execute(text("UPDATE submissions SET seed = 4294967295"))  # 2**32 - 1: any seed fits
        assert db.execute(text("SELECT seed FROM submissions")).scalar_one() == 2**32 - 1
    engine.dispose()
    command.downgrade(alembic_config(url), "0005")
    tables, submission_columns = columns(url)
    assert "server_secrets" not in tables and "seed" not in submission_columns
    engine = make_engine(url)
    with engine.connect() as db:
        kept = db.execute(
            text(
                "SELECT s.id, d.webhook_id FROM submissions s "
                "JOIN deliveries d ON d.submission_id = s.id"
            )
        )
        assert kept.all() == [("sub_1", "msg_1")]
    engine.dispose()
    command.upgrade(alembic_config(url), "head")
    assert "seed" in columns(url)[1]


# -- what the attack review found: each would let a student's answer stand without their variant


@pytest.mark.parametrize("name", [RENAMED, OLD_ID])
def test_practice_under_another_name_of_a_guarded_item_is_closed(
    quiz_course: Course, name: str
) -> None:
    """An assignment guards the item under every id that names it: a former id or a fixed
    variant's would otherwise open practice, whose whole report gives the key away."""
    alice = quiz_course.student("alice")
    for question in (ITEM, name):
        data = {"question": question, "choice": "1"}
        refused = quiz_course.http.post("/v1/submissions", data=data, headers=bearer(alice))
        assert refused.status_code == 422 and "part of assignment" in refused.text, question


def test_a_row_stored_without_a_seed_of_an_item_that_now_varies_fails_closed(
    course_bank: Bank,
) -> None:
    from grader.service.grading import grade_stored
    from sandbox.fake import FakeSandbox, result

    row = SimpleNamespace(
        id="sub_old", question=ITEM, seed=None, choice="1", content=None, filename=None
    )
    report = grade_stored(course_bank, row, FakeSandbox(lambda request: result()))  # type: ignore[arg-type]
    assert (report.status, report.verdict) == ("error", "INTERNAL_ERROR")
    assert "stored before" in (report.message or "")


def test_below_the_key_level_a_report_names_its_variant_by_seed_only(quiz_course: Course) -> None:
    """The drawn values may include one only a key reads, and option ids may name the key."""
    alice = quiz_course.student("alice")
    shown = quiz_course.variant(alice, assignment="each-student")
    graded = quiz_course.submit(alice, right_answer(shown), assignment="each-student")
    assert graded["revealed"] != "key"
    assert graded["report"]["variant"] == {"seed": shown["seed"], "values": {}, "choices": None}
