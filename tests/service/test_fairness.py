"""Fair grading: a cap on a student's work in flight, and claims in turns across students.

End to end on the app in process, graded by the real pool (one worker) whose fake sandbox sleeps
as each submission asks (`# sleep S`) or waits for the test (`# gate`); the claim order itself on
hand-made rows of a store of its own.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from grader.service import lms_clients, store
from grader.service.db import Submission, open_store
from grader.service.errors import StudentBusy
from grader.service.settings import ServiceSettings
from sandbox.base import RunRequest, RunResult
from sandbox.fake import result
from tests.service.conftest import InProcess, StoreUrl, bearer, both_stores

CODE = "binary-metrics"
MCQ = "finetuning-purpose"
COURSE = "fair-101"
#: How long each of the flooding student's jobs takes.
JOB_S = 0.3
BUSY = "3 submissions of yours are still being graded; wait for one"


class Sandboxes:
    """The pool's fake sandbox: a submission with `# sleep S` takes S seconds, one with `# gate`
    waits until the test opens the gate; every other run answers at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def __call__(self, request: RunRequest) -> RunResult:
        source = request.files.get("submission.py", b"").decode()
        first = source.splitlines()[0] if source else ""
        if first.startswith("# sleep "):
            time.sleep(float(first.removeprefix("# sleep ")))
        elif first == "# gate":
            assert self.gate.wait(30), "the test never opened the gate"
        return result()


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    made = Sandboxes()
    yield made
    made.gate.set()  # a worker still held at the gate finishes, so the app can stop


@pytest.fixture
def make_pool(make_app: Callable[..., InProcess], sandboxes: Sandboxes) -> Callable[..., InProcess]:
    """The app graded by one worker with the `sandboxes` handler; more settings as keywords."""

    def make(**settings: Any) -> InProcess:
        return make_app(workers=1, student_burst=100, handler=sandboxes, **settings)

    return make


def submit_code(app: InProcess, token: str, first_line: str) -> httpx.Response:
    upload = ("s.py", f"{first_line}\nx = 1\n".encode())
    answer: httpx.Response = app.client.post(
        "/v1/submissions", data={"question": CODE}, files={"file": upload}, headers=bearer(token)
    )
    return answer


def submit_mcq(app: InProcess, token: str) -> httpx.Response:
    answer: httpx.Response = app.client.post(
        "/v1/submissions", data={"question": MCQ, "choice": "A"}, headers=bearer(token)
    )
    return answer


def accepted(answer: httpx.Response) -> str:
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def block_the_worker(app: InProcess, sandboxes: Sandboxes) -> str:
    """Another student's job that holds the only worker until the gate opens."""
    held = accepted(submit_code(app, app.token(f"blocker-{uuid.uuid4().hex[:6]}"), "# gate"))
    deadline = time.monotonic() + 20
    while app.row(held).status != "running":
        assert time.monotonic() < deadline, "the worker never took the blocking job"
        time.sleep(0.02)
    return held


# -- the flood from the issue: ten sleepers, then another student's one submission ---------------


def test_a_flooding_student_delays_another_by_at_most_one_job(make_pool):
    app = make_pool(student_inflight=10)
    heavy, light = app.token("heavy"), app.token("light")
    flood = [accepted(submit_code(app, heavy, f"# sleep {JOB_S}")) for _ in range(10)]
    # arrive just after a heavy job began, not in the moment a worker picks its next one: a claim
    # decided before the light submission was committed would count against the turns
    after_a_job_boundary(app, flood)
    mine = accepted(submit_code(app, light, f"# sleep {JOB_S}"))
    app.wait_done(mine, *flood, timeout_s=60)

    own = app.row(mine)
    assert own.started_at is not None and own.finished_at is not None
    rows = [app.row(i) for i in flood]
    claimed_meanwhile = [r for r in rows if own.created_at < (r.started_at or 0) < own.started_at]
    finished_meanwhile = [
        r for r in rows if own.created_at < (r.finished_at or 0) < own.finished_at
    ]
    wait = own.started_at - own.created_at
    figure = f"light student waited {wait:.2f} s for a claim; one heavy job takes {JOB_S} s"
    assert claimed_meanwhile == [], figure
    assert len(finished_meanwhile) <= 1, figure
    # first in, first out would have made it wait for all ten (3 s); one job, plus the worker's
    # own overhead, is the bound
    assert wait < 3 * JOB_S, figure
    print(figure)


def after_a_job_boundary(app: InProcess, ids: list[str]) -> None:
    """Return as soon as one more of `ids` is graded (a worker has just taken the next one)."""
    graded = sum(app.row(i).status == "done" for i in ids)
    deadline = time.monotonic() + 20
    while sum(app.row(i).status == "done" for i in ids) == graded:
        assert time.monotonic() < deadline, "no job finished"
        time.sleep(0.005)


# -- the cap ---------------------------------------------------------------------------------------


def test_the_cap_refuses_a_fourth_submission_in_flight_until_one_is_graded(make_pool, sandboxes):
    app = make_pool()  # the default cap: 3
    block_the_worker(app, sandboxes)
    alice, bob = app.token("alice"), app.token("bob")
    queued = [accepted(submit_mcq(app, alice)) for _ in range(3)]

    refused = submit_mcq(app, alice)
    assert refused.status_code == 429
    assert refused.json() == {"error": BUSY}
    assert refused.headers["Retry-After"] == "10"
    assert accepted(submit_mcq(app, bob))  # the cap is each student's own
    with app.sessions() as session:
        assert store.in_flight(session, "alice", None) == 3

    sandboxes.gate.set()
    app.wait_done(*queued)
    assert accepted(submit_mcq(app, alice))


def test_the_same_student_id_in_another_course_has_a_cap_of_its_own(make_pool, sandboxes):
    app = make_pool(student_inflight=1)
    block_the_worker(app, sandboxes)
    accepted(submit_mcq(app, app.token("sam", COURSE)))
    assert submit_mcq(app, app.token("sam", COURSE)).status_code == 429
    assert accepted(submit_mcq(app, app.token("sam", "other-course")))


def test_regrades_neither_count_against_the_cap_nor_are_refused(make_pool, sandboxes):
    app = make_pool()
    student, teacher = app.token("rita", COURSE), app.instructor("ted", COURSE)
    graded = [accepted(submit_mcq(app, student)) for _ in range(3)]
    app.wait_done(*graded)
    block_the_worker(app, sandboxes)

    regrade = app.client.post(
        "/v1/course/regrade", json={"question": MCQ, "force": True}, headers=bearer(teacher)
    )
    assert regrade.status_code == 200, regrade.text
    assert sorted(regrade.json()["submissions"]) == sorted(graded)  # all three queued again
    assert all(app.row(i).status == "queued" for i in graded)
    fresh = [accepted(submit_mcq(app, student)) for _ in range(3)]
    assert submit_mcq(app, student).status_code == 429  # the three new ones count
    sandboxes.gate.set()
    app.wait_done(*graded, *fresh)


def test_the_lms_route_refuses_a_fourth_submission_of_one_student(make_pool, sandboxes):
    app = make_pool()
    with app.sessions() as session:
        secret = lms_clients.add_client(session, "canvas", ["127.0.0.1"])
    block_the_worker(app, sandboxes)

    answers = [lms_post(app, secret, "stu-1") for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[3].json() == {
        "error": "3 submissions of student 'stu-1' are still being graded; wait for one"
    }
    assert answers[3].headers["Retry-After"] == "10"
    assert lms_post(app, secret, "stu-2").status_code == 202
    with app.sessions() as session:
        assert store.in_flight(session, "stu-1", COURSE) == 3


def lms_post(app: InProcess, secret: str, student: str) -> httpx.Response:
    """A signed LMS submission of an MCQ answer by `student` of COURSE."""
    body = {
        "question": MCQ,
        "student": student,
        "course": COURSE,
        "submission_id": f"lms-{uuid.uuid4().hex[:8]}",
        "callback_url": "http://127.0.0.1:9/hook",
        "choice": "A",
    }
    raw = json.dumps(body)
    msg_id, stamp = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret).sign(msg_id, stamp, raw),
    }
    answer: httpx.Response = app.client.post("/v1/lms/submissions", content=raw, headers=headers)
    return answer


@pytest.mark.parametrize(("value", "cap"), [(None, 3), ("7", 7)], ids=["default", "from-env"])
def test_the_cap_is_a_setting(monkeypatch, value, cap):
    if value is not None:
        monkeypatch.setenv("GRADER_STUDENT_INFLIGHT", value)
    assert ServiceSettings().student_inflight == cap


def test_a_cap_below_one_is_an_error(monkeypatch):
    monkeypatch.setenv("GRADER_STUDENT_INFLIGHT", "0")
    with pytest.raises(ValidationError, match="student_inflight"):
        ServiceSettings()


def test_requests_at_once_never_exceed_the_cap_on_sqlite(tmp_path: Path) -> None:
    sessions = open_store(f"sqlite:///{tmp_path / 'race.db'}")
    new = store.NewSubmission(question=MCQ, student="eve", choice="A")
    outcomes: list[str] = []

    def one() -> None:
        try:
            store.add_counted(sessions, new, None, cap=3)
            outcomes.append("stored")
        except StudentBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sessions() as session:
        assert store.in_flight(session, "eve", None) == 3
    assert sorted(outcomes) == ["busy"] * 7 + ["stored"] * 3
    sessions.kw["bind"].dispose()


# -- regrades come after first gradings -----------------------------------------------------------


def test_a_regrade_backlog_does_not_delay_a_new_first_grading(make_pool):
    app = make_pool(student_inflight=20)
    old, teacher = app.token("olga", COURSE), app.instructor("ted", COURSE)
    backlog = [accepted(submit_code(app, old, "# sleep 0.1")) for _ in range(8)]
    app.wait_done(*backlog)
    regrade = app.client.post(
        "/v1/course/regrade", json={"question": CODE, "force": True}, headers=bearer(teacher)
    )
    assert regrade.json()["queued"] == 8, regrade.text

    mine = accepted(submit_code(app, app.token("nina", COURSE), "# sleep 0.1"))
    app.wait_done(mine, *backlog, timeout_s=30)
    own = app.row(mine)
    assert own.started_at is not None
    regraded_meanwhile = [
        i for i in backlog if own.created_at < (app.row(i).started_at or 0) < own.started_at
    ]
    assert regraded_meanwhile == []
    assert all(app.row(i).version == 2 for i in backlog)  # and the regrades did happen


# -- the claim order, on hand-made rows ------------------------------------------------------------


def row(
    key: str,
    student: str,
    created: float,
    status: str = "queued",
    started: float | None = None,
    course: str | None = COURSE,
    regrade: bool = False,
) -> Submission:
    return Submission(
        id=key,
        question=MCQ,
        student=student,
        course=course,
        choice="A",
        status=status,
        created_at=created,
        started_at=started,
        regrade_by="ted" if regrade else None,
    )


ORDER_CASES = {
    "a student never served goes first": (
        [row("a1", "a", 1), row("a0", "a", 0, "done", 5), row("b1", "b", 3)],
        "b1",
    ),
    "the student served least recently goes first": (
        [row("a1", "a", 1), row("a0", "a", 0, "done", 10), row("b1", "b", 2)]
        + [row("b0", "b", 0, "done", 5)],
        "b1",
    ),
    "a job running now counts as served": (
        [row("a1", "a", 1), row("a0", "a", 0, "running", 8), row("b1", "b", 2)]
        + [row("b0", "b", 0, "done", 3)],
        "b1",
    ),
    "among the never served, the oldest queued first": (
        [row("a1", "a", 2), row("b1", "b", 1)],
        "b1",
    ),
    "a student's own oldest first": (
        [row("b2", "b", 5), row("b1", "b", 4), row("a0", "a", 0, "done", 1), row("a1", "a", 9)],
        "b1",
    ),
    "another course's student of the same id is another student": (
        [row("a1", "a", 1), row("a0", "a", 0, "done", 10), row("x1", "a", 2, course="other")],
        "x1",
    ),
    "a student without a course is one too": (
        [row("a1", "a", 1), row("a0", "a", 0, "done", 10), row("n1", "a", 2, course=None)],
        "n1",
    ),
    "a first grading before any older regrade": (
        [row("r1", "a", 0, regrade=True), row("r2", "b", 1, regrade=True), row("c1", "c", 9)],
        "c1",
    ),
    "a regrade when no first grading waits": (
        [
            row("r2", "b", 2, regrade=True),
            row("r1", "a", 1, regrade=True),
            row("d", "c", 0, "done"),
        ],
        "r1",
    ),
}


@pytest.fixture
def sessions(store_url: StoreUrl) -> Iterator[sessionmaker[Session]]:
    made = open_store(store_url())
    yield made
    made.kw["bind"].dispose()


def fresh(rows: list[Submission]) -> list[Submission]:
    """New instances of `rows`: a case's rows serve every store the test runs on, and an instance
    stored once is never inserted again."""
    columns = Submission.__table__.columns.keys()
    return [Submission(**{name: getattr(row, name) for name in columns}) for row in rows]


@both_stores
@pytest.mark.parametrize(("rows", "expected"), list(ORDER_CASES.values()), ids=list(ORDER_CASES))
def test_next_queued_picks(sessions, rows, expected):
    with sessions() as session:
        session.add_all(fresh(rows))
        session.commit()
        assert store.next_queued(session) == expected


def test_nothing_queued_is_none(sessions):
    with sessions() as session:
        session.add(row("a0", "a", 0, "done", 1))
        session.commit()
        assert store.next_queued(session) is None


@both_stores
def test_claims_go_round_robin_across_students(sessions):
    with sessions() as session:
        session.add_all([row(f"a{i}", "a", i) for i in range(5)])  # the oldest backlog
        session.add_all([row("b0", "b", 10), row("b1", "b", 11), row("c0", "c", 12)])
        session.commit()
        order = []
        while (claimed := store.claim_next(session, "w")) is not None:
            order.append(claimed)  # nothing finishes: each stays running
    assert order == ["a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4"]


@both_stores
def test_in_flight_counts_queued_and_running_first_gradings_only(sessions):
    with sessions() as session:
        session.add_all(
            [
                row("q", "a", 1),
                row("r", "a", 2, "running", 3),
                row("d", "a", 0, "done", 1),
                row("g", "a", 4, regrade=True),
                row("o", "a", 5, course="other"),
                row("b", "b", 6),
            ]
        )
        session.commit()
        assert store.in_flight(session, "a", COURSE) == 2
