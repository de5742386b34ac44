"""The course server enforces its assignments: who may submit, when, how often, and what a
student then sees, on the student API, through `grader submit` and in LMS callbacks.

The app runs in process (TestClient, SQLite in tmp_path, FakeSandbox; graded inline unless a test
needs the pool). Each test writes its assignments as files and reads them as the server does, and
sets the service's clock, so a window's edges are tested to the second without waiting.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import select

import grader.cli.client
from grader.bank import Bank, load_bank
from grader.cli.app import main
from grader.courses.catalog import load_catalog
from grader.models import McqItem
from grader.service import lms_clients
from grader.service.db import Submission, alembic_config, open_store
from tests.service.conftest import InProcess, StoreUrl, TestClient, bearer, both_stores
from tests.service.test_lms import Served, lms_body, post
from tests.support.receiver import Receiver

COURSE = "pytorch-101"
MCQ = "finetuning-purpose"
NUMERIC = "precision-tp85-fp15-fn10"
FREE = "cats-dogs-500-images"  # in no assignment
OPENS = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
DUE = OPENS + timedelta(days=7)
SECOND = timedelta(seconds=1)
HIDDEN = {"feedback": "never", "checks": "never", "key": "never"}


def mcq_letters() -> tuple[str, str]:
    """The MCQ's key and a wrong letter."""
    item = load_bank().get(MCQ)
    assert isinstance(item, McqItem)
    return item.answer, next(letter for letter in item.letters if letter != item.answer)


KEY, WRONG = mcq_letters()


def quiz(assignment_id: str = "quiz", **changes: Any) -> dict[str, Any]:
    """An assignment file's content: the MCQ (5 points, 3 attempts) and a numeric item with an
    attempt limit of its own (2)."""
    document: dict[str, Any] = {
        "schema_version": 1,
        "id": assignment_id,
        "title": "Week 3 quiz",
        "course": COURSE,
        "opens": OPENS.isoformat(),
        "due": DUE.isoformat(),
        "attempts": 3,
        "items": [{"id": MCQ, "points": 5}, {"id": NUMERIC, "points": 2, "attempts": 2}],
    }
    return document | changes


class Clock:
    """The service's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Course:
    """The app in process with a course's assignments, its clock, and a student's calls."""

    app: InProcess
    clock: Clock

    def token(self, course: str | None = COURSE) -> str:
        return self.app.token(f"student-{secrets.token_hex(4)}", course)

    def submit(
        self, token: str, choice: str, question: str = MCQ, assignment: str | None = "quiz"
    ) -> httpx.Response:
        data = {"question": question, "choice": choice}
        data |= {"assignment": assignment} if assignment else {}
        response: httpx.Response = self.app.client.post(
            "/v1/submissions", data=data, headers=bearer(token)
        )
        return response

    def read(self, token: str, submission_id: str) -> dict[str, Any]:
        response = self.app.client.get(f"/v1/submissions/{submission_id}", headers=bearer(token))
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    def graded(self, token: str, choice: str, question: str = MCQ) -> dict[str, Any]:
        """Submit to `quiz` and read the view back (graded inline)."""
        response = self.submit(token, choice, question)
        assert response.status_code == 202, response.text
        return self.read(token, response.json()["id"])


MakeCourse = Callable[..., Course]


@pytest.fixture
def make_course(
    make_app: Callable[..., InProcess], tmp_path: Path, course_bank: Bank
) -> MakeCourse:
    """`make_course(*assignment_documents, **make_app_options)`: default one `quiz()`; the clock
    starts a day after it opens."""

    def make(*documents: dict[str, Any], grading: str = "inline", **options: Any) -> Course:
        folder = tmp_path / f"assignments-{secrets.token_hex(4)}"
        folder.mkdir()
        for document in documents or (quiz(),):
            (folder / f"{document['id']}.yaml").write_text(json.dumps(document), encoding="utf-8")
        catalog = load_catalog(folder, course_bank)
        assert not catalog.issues, catalog.issues
        app = make_app(grading=grading, catalog=catalog, **options)
        clock = Clock(OPENS + timedelta(days=1))
        app.state.clock = clock
        return Course(app, clock)

    return make


def error(response: httpx.Response, status: int) -> str:
    """The one-line reason of a refusal with `status`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    return str(body["error"])


def no_key(report: dict[str, Any]) -> bool:
    """Neither the explanation nor the key letter, in any check."""
    checks = report["checks"]
    letters = {c["expected"] for c in checks} | {c["observed"] for c in checks}
    return report["explanation"] is None and KEY not in letters and f"({KEY})" not in str(report)


# -- intake: which assignment, whose, which item -------------------------------------------------


def test_unknown_assignment_404_other_course_403_item_not_listed_422(make_course):
    course = make_course()
    token = course.token()
    assert "unknown assignment 'nope'" in error(course.submit(token, KEY, assignment="nope"), 404)
    other = course.token(course="cv-201")
    reason = error(course.submit(other, KEY), 403)
    assert (
        reason
        == "assignment 'quiz' is for course 'pytorch-101'; this submission is for course 'cv-201'"
    )
    assert "names no course" in error(course.submit(course.token(course=None), KEY), 403)
    reason = error(course.submit(token, "B", question="cats-dogs-500-images"), 422)
    assert "'cats-dogs-500-images' is not in assignment 'quiz'" in reason
    with course.app.sessions() as session:
        assert session.scalar(select(Submission.id)) is None


def test_practice_mode_is_unchanged_outside_assignments(make_course):
    course = make_course()
    token = course.token()
    created = course.submit(token, "A", question=FREE, assignment=None)
    assert created.status_code == 202
    assert created.json()["assignment"] is None and created.json()["attempt"] is None
    view = course.read(token, created.json()["id"])
    assert (view["assignment"], view["attempt"], view["late_penalty"], view["revealed"]) == (
        None,
        None,
        None,
        None,
    )
    assert view["report"]["explanation"] and view["report"]["checks"][0]["expected"]
    assert view["report"]["max_score"] == 1.0


@pytest.mark.parametrize("course_of_token", [COURSE, "another-course", None])
def test_practice_cannot_reach_an_item_an_assignment_guards(make_course, course_of_token):
    """Practice shows the key at once: while the quiz is open (for anyone, on this server)."""
    course = make_course()
    reason = error(course.submit(course.token(course_of_token), WRONG, assignment=None), 422)
    assert "part of assignment 'quiz'" in reason and "--assignment quiz" in reason


@pytest.mark.parametrize(
    ("reveal", "after", "status"),
    [({}, DUE + SECOND, 202), ({}, DUE, 422), ({"mcq": HIDDEN}, DUE + timedelta(days=30), 422)],
    ids=["after-due-key-shown", "at-due", "key-never-shown"],
)
def test_practice_reopens_once_the_assignment_shows_its_key_to_all(
    make_course, reveal, after, status
):
    course = make_course(quiz(reveal=reveal))
    course.clock.now = after
    assert course.submit(course.token(), WRONG, assignment=None).status_code == status


# -- the window ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "status", "reason"),
    [
        (OPENS - SECOND, 403, "quiz opens at 2030-03-01T12:00:00+00:00"),
        (OPENS, 202, ""),
        (DUE - SECOND, 202, ""),
        (DUE, 202, ""),
        (DUE + SECOND, 403, "quiz closed at 2030-03-08T12:00:00+00:00"),
    ],
    ids=["before-opens", "at-opens", "second-before-due", "at-due", "second-after-due"],
)
def test_window_to_the_second_when_late_work_is_refused(make_course, at, status, reason):
    course = make_course()
    course.clock.now = at
    answer = course.submit(course.token(), KEY)
    if status == 202:
        assert answer.status_code == 202, answer.text
        assert answer.json()["attempt"] == 1
    else:
        assert reason in error(answer, status)


def test_late_work_until_the_cutoff_then_refused(make_course):
    cutoff = DUE + timedelta(days=2)
    course = make_course(quiz(late={"accept": "until_cutoff", "cutoff": cutoff.isoformat()}))
    token = course.token()
    course.clock.now = cutoff
    assert course.graded(token, KEY)["late_penalty"] == 0.0
    course.clock.now = cutoff + SECOND
    assert "closed at 2030-03-10T12:00:00+00:00" in error(course.submit(token, KEY), 403)


# -- attempts ------------------------------------------------------------------------------------


def test_the_attempt_that_reaches_the_limit_and_the_one_after(make_course):
    course = make_course()
    token = course.token()
    first = course.submit(token, "0.5", question=NUMERIC)
    second = course.submit(token, "0.5", question=NUMERIC)
    assert [first.status_code, second.status_code] == [202, 202]
    assert [first.json()["attempt"], second.json()["attempt"]] == [1, 2]
    assert error(course.submit(token, "0.5", question=NUMERIC), 409) == "attempts used up: 2 of 2"
    assert course.submit(token, KEY).json()["attempt"] == 1  # another item counts on its own
    assert course.submit(course.token(), "0.5", question=NUMERIC).status_code == 202  # another


@both_stores
def test_ten_at_once_take_exactly_three_attempts(make_course):
    course = make_course(student_burst=50)
    token = course.token()
    start = threading.Barrier(10)
    answers: list[httpx.Response] = []

    def one() -> None:
        start.wait()
        answers.append(course.submit(token, WRONG))

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [202] * 3 + [409] * 7, [a.text for a in answers]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {
        "attempts used up: 3 of 3"
    }
    with course.app.sessions() as session:
        taken = session.scalars(select(Submission.attempt).order_by(Submission.attempt))
        assert list(taken) == [1, 2, 3]


# -- scores ----------------------------------------------------------------------------------------


def test_late_penalty_per_started_day_scales_the_score(make_course):
    course = make_course(quiz(late={"accept": "with_penalty", "penalty": 0.1, "per": "day"}))
    course.clock.now = DUE + timedelta(days=1, seconds=1)  # two started days late: 20% off
    token = course.token()
    view = course.graded(token, KEY)
    assert view["late_penalty"] == pytest.approx(0.2)
    assert (view["report"]["score"], view["report"]["max_score"]) == (pytest.approx(4.0), 5.0)
    stored = course.app.row(view["id"]).report
    assert stored is not None and (stored["score"], stored["max_score"]) == (1.0, 1.0)


# -- what a student sees -------------------------------------------------------------------------


def test_key_after_due_hidden_before_shown_after_at_the_time_of_reading(make_course):
    course = make_course()  # the default rule: everything after the due date
    token = course.token()
    view = course.graded(token, WRONG)
    report = view["report"]
    assert view["revealed"] == "verdict" and no_key(report)
    assert report["checks"][0]["message"] == "not passed"
    assert report["verdict"] == "WRONG_ANSWER" and report["score"] == 0.0
    stored = course.app.row(view["id"]).report
    assert stored is not None and stored["explanation"] and stored["checks"][0]["expected"] == KEY
    course.clock.now = DUE + SECOND
    after = course.read(token, view["id"])
    assert after["revealed"] == "key" and not no_key(after["report"])
    assert after["report"]["checks"][0]["expected"] == KEY and after["report"]["explanation"]


def test_feedback_always_shows_the_chosen_options_words_not_the_key(make_course):
    course = make_course(quiz(reveal={"mcq": {"feedback": "always"}}))
    view = course.graded(course.token(), WRONG)
    assert view["revealed"] == "feedback" and no_key(view["report"])
    item = load_bank().get(MCQ)
    assert isinstance(item, McqItem)
    chosen = item.choices[item.letters.index(WRONG)]
    assert view["report"]["checks"][0]["message"] == chosen.feedback


def test_never_hides_the_key_even_after_due(make_course):
    course = make_course(quiz(reveal={"mcq": HIDDEN}))
    token = course.token()
    view = course.graded(token, WRONG)
    course.clock.now = DUE + timedelta(days=30)
    assert no_key(course.read(token, view["id"])["report"])


def test_always_shows_everything_at_once(make_course):
    course = make_course(
        quiz(reveal={"mcq": {"feedback": "always", "checks": "always", "key": "always"}})
    )
    view = course.graded(course.token(), WRONG)
    assert view["revealed"] == "key" and view["report"]["checks"][0]["expected"] == KEY


def test_after_attempts_shows_the_key_from_the_nth_attempt(make_course):
    rule = {"feedback": {"after_attempts": 2}, "checks": {"after_attempts": 2}}
    course = make_course(quiz(reveal={"mcq": rule | {"key": {"after_attempts": 2}}}))
    token = course.token()
    first = course.graded(token, WRONG)
    second = course.graded(token, WRONG)
    assert (first["attempt"], first["revealed"]) == (1, "verdict") and no_key(first["report"])
    assert (second["attempt"], second["revealed"]) == (2, "key")
    assert second["report"]["explanation"]
    assert no_key(course.read(token, first["id"])["report"])  # attempt 1 stays as it was


def test_after_correct_counts_this_and_earlier_attempts_only(make_course):
    rule = {"feedback": "after_correct", "checks": "after_correct", "key": "after_correct"}
    course = make_course(quiz(reveal={"mcq": rule}))
    token = course.token()
    wrong = course.graded(token, WRONG)
    right = course.graded(token, KEY)
    assert no_key(wrong["report"]) and wrong["revealed"] == "verdict"
    assert right["revealed"] == "key" and right["report"]["explanation"]
    assert no_key(course.read(token, wrong["id"])["report"])


# -- `grader submit` -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`cli(course, *argv)`: `grader ARGV...` in process, its HTTP client answered by the app."""

    def run(course: Course, *argv: str) -> Done:
        def routed(base_url: str, headers: dict[str, str], timeout: float) -> TestClient:
            return TestClient(course.app.app, base_url=base_url, headers=headers)

        shim = SimpleNamespace(Client=routed, HTTPError=httpx.HTTPError)
        monkeypatch.setattr(grader.cli.client, "httpx", shim)
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def test_grader_submit_prints_only_what_the_rules_show(make_course, cli):
    late = {"accept": "with_penalty", "penalty": 0.1, "per": "day"}  # no cut-off: never closes
    course = make_course(quiz(late=late))
    token = course.token()
    where = ("--server", "http://testserver", "--token", token)
    before = cli(course, "submit", MCQ, "--choice", WRONG, "--assignment", "quiz", *where)
    assert before.returncode == 1, before.stderr
    assert "WRONG_ANSWER  finetuning-purpose  0/5" in before.stdout
    assert "Explanation" not in before.stdout and f"({KEY})" not in before.stdout
    assert "assignment quiz · attempt 1 · shown: verdict" in before.stdout
    assert "finetuning-purpose, quiz attempt 1" in before.stderr
    course.clock.now = DUE + timedelta(hours=1)
    after = cli(course, "submit", MCQ, "--choice", KEY, "--assignment", "quiz", *where)
    assert after.returncode == 0, after.stderr
    assert "PASSED  finetuning-purpose  4.5/5" in after.stdout
    # Late work is still taken, so the key is not shown past due: the late would receive it.
    assert "Explanation:" not in after.stdout and f"({KEY})" not in after.stdout
    assert "attempt 2 · 10% off for lateness · shown: verdict" in after.stdout
    course.clock.now = OPENS - SECOND
    refused = cli(course, "submit", MCQ, "--choice", KEY, "--assignment", "quiz", *where)
    assert refused.returncode == 2 and "quiz opens at" in refused.stderr


# -- `GET /v1/assignments` and `grader assignments` ------------------------------------------------


def test_listing_shows_open_and_upcoming_with_attempts_and_scores(make_course, cli):
    later = OPENS + timedelta(days=30)
    course = make_course(
        quiz(counts="best"),
        quiz("quiz-last", counts="last", attempts="unlimited"),
        quiz("upcoming", opens=later.isoformat(), due=(later + timedelta(days=7)).isoformat()),
        quiz("closed", due=(OPENS + SECOND).isoformat()),
        quiz("elsewhere", course="cv-201"),
    )
    token = course.token()
    for assignment, choice in [("quiz", KEY), ("quiz", WRONG), ("quiz-last", KEY)]:
        assert course.submit(token, choice, assignment=assignment).status_code == 202
    assert course.submit(token, WRONG, assignment="quiz-last").status_code == 202
    answer = course.app.client.get("/v1/assignments", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = {a["id"]: a for a in answer.json()}
    assert list(body) == ["quiz", "quiz-last", "upcoming"]  # soonest due first
    assert body["quiz"]["open"] and not body["upcoming"]["open"]
    assert body["quiz"]["closes"] == body["quiz"]["due"] == "2030-03-08T12:00:00Z"
    mcq, numeric = body["quiz"]["items"]
    assert (mcq["attempts_used"], mcq["attempts_left"], mcq["score"]) == (2, 1, 5.0)  # best
    assert (numeric["attempts_used"], numeric["attempts_left"], numeric["score"]) == (0, 2, None)
    last = body["quiz-last"]["items"][0]
    assert (last["attempts_used"], last["attempts_left"], last["score"]) == (2, None, 0.0)
    text = cli(course, "assignments", "--server", "http://testserver", "--token", token)
    assert text.returncode == 0, text.stderr
    assert "quiz  Week 3 quiz  [open; counts the best]" in text.stdout
    assert "due 2030-03-08 12:00 +00:00" in text.stdout
    assert any(
        line.split() == [MCQ, "mcq", "5", "2", "1", "5"] for line in text.stdout.splitlines()
    )
    raw = cli(course, "assignments", "--json", "--server", "http://testserver", "--token", token)
    assert json.loads(raw.stdout) == answer.json()


def test_listing_needs_a_token_and_a_course(make_course):
    course = make_course()
    assert "token" in error(course.app.client.get("/v1/assignments"), 401)
    no_course = course.app.client.get("/v1/assignments", headers=bearer(course.token(None)))
    assert no_course.status_code == 200 and no_course.json() == []


# -- LMS webhooks ----------------------------------------------------------------------------------


@pytest.fixture
def lms_course(make_course: MakeCourse) -> tuple[Course, Served]:
    """A course graded by the pool, sending callbacks; late work taken at 10% a day."""
    late = {"accept": "with_penalty", "penalty": 0.1, "per": "day"}
    course = make_course(
        quiz(late=late), grading="pool", deliveries=True, retry_scale=0.001, workers=1
    )
    app = course.app
    with app.sessions() as session:
        secret = lms_clients.add_client(session, "canvas", ["127.0.0.1"])

    def post_raw(body: bytes, headers: dict[str, str]) -> httpx.Response:
        answer: httpx.Response = app.client.post(
            "/v1/lms/submissions", content=body, headers=headers
        )
        return answer

    return course, Served(app.sessions, secret, post_raw, app.db_url)


def test_lms_callback_body_is_cut_and_scaled_by_the_rules(lms_course):
    course, server = lms_course
    with Receiver(server.first_secret) as receiver:
        hook = receiver.url + "/hook"
        body = lms_body(hook, question=MCQ, choice=WRONG, course=COURSE, assignment="quiz")
        accepted = post(server, server.first_secret, body)
        assert accepted.status_code == 202, accepted.text
        assert (accepted.json()["assignment"], accepted.json()["attempt"]) == ("quiz", 1)
        [first] = receiver.wait_for(1)
        data = first.json()["data"]
        assert (data["assignment"], data["attempt"], data["late_penalty"]) == ("quiz", 1, 0.0)
        assert data["revealed"] == "verdict" and no_key(data["report"])
        assert data["report"]["max_score"] == 5.0
        course.clock.now = DUE + timedelta(hours=1)
        again = lms_body(hook, question=MCQ, choice=WRONG, course=COURSE, assignment="quiz")
        assert post(server, server.first_secret, again).status_code == 202
        second = receiver.wait_for(2)[1].json()["data"]
    # Late work is still taken (no cut-off), so past due the key is not shown: the late would
    # receive it.
    assert (second["attempt"], second["late_penalty"], second["revealed"]) == (2, 0.1, "verdict")
    assert no_key(second["report"])
    stored = course.app.row(data["id"]).report
    assert stored is not None and stored["explanation"]  # the store keeps it all


def test_lms_refusals_name_the_rule(lms_course):
    course, server = lms_course
    url = "http://127.0.0.1:9/hook"

    def send(**changes: object) -> httpx.Response:
        fields = {"question": MCQ, "choice": KEY, "course": COURSE, "assignment": "quiz"}
        return post(server, server.first_secret, lms_body(url, **(fields | changes)))

    assert "unknown assignment 'nope'" in error(send(assignment="nope"), 404)
    assert "is for course 'cv-201'" in error(send(course="cv-201"), 403)
    assert "is not in assignment" in error(send(question="cats-dogs-500-images", choice="A"), 422)
    for _ in range(3):
        assert send(student="stu-9").status_code == 202
    assert error(send(student="stu-9"), 409) == "attempts used up: 3 of 3"
    course.clock.now = DUE + timedelta(days=30)
    assert send(student="stu-8").status_code == 202  # no cut-off: late, with the penalty
    course.clock.now = OPENS - SECOND
    assert "opens at" in error(send(student="stu-7"), 403)


# -- start-up and the store ----------------------------------------------------------------------


def test_a_broken_assignment_file_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "assignments"
    folder.mkdir()
    broken = quiz(items=[{"id": "no-such-item", "points": 1}])
    (folder / "quiz.yaml").write_text(json.dumps(broken, indent=1), encoding="utf-8")
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(folder))
    code = main(["serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 'grader.db'}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {folder / 'quiz.yaml'}:" in err and "no item 'no-such-item' in the bank" in err
    assert not (tmp_path / "grader.db").exists()  # stopped before the store was touched


@both_stores
def test_migration_0003_downgrades_and_upgrades(store_url: StoreUrl):
    url = store_url(blank=True)
    sessions = open_store(url)
    sessions.kw["bind"].dispose()
    config = alembic_config(url)
    command.downgrade(config, "0002")
    command.upgrade(config, "head")
