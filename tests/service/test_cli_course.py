"""The instructors' and students' commands against a real `grader serve` on loopback.

One server for the module (`live_server`); the `grader` commands run in this process (`main`),
over HTTP to it, and `grader tokens` writes to its store as an operator does. The course below is
set up once: an instructor, two students from a roster, three graded submissions. A test that
changes graded work uses a course of its own.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from grader.cli.app import main
from grader.ops.loopback import ServerProcess, wait_until
from grader.service.db import Token, open_store

MCQ = "finetuning-purpose"  # one point; the key is A
KEY, WRONG = "A", "B"


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str

    def error(self) -> str:
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        return lines[0]


@dataclass(frozen=True)
class Course:
    """A course on the live server: its instructor's token and its students' tokens and work."""

    server: ServerProcess
    name: str
    teacher: str
    students: dict[str, str]
    work: dict[str, list[dict[str, Any]]]  # student -> `submit --json` views, oldest first

    def run(self, *argv: str) -> Done:
        return cli(*argv)

    def as_(self, token: str, *argv: str) -> Done:
        """`grader ARGV` against the server with `token`."""
        return cli(*argv, "--server", self.server.url, "--token", token)

    def teach(self, *argv: str) -> Done:
        return self.as_(self.teacher, *argv)


def cli(*argv: str) -> Done:
    """`grader ARGV` in this process, its output captured (module fixtures have no capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Done(code, out.getvalue(), err.getvalue())


def new_course(server: ServerProcess, students: list[str]) -> Course:
    """An instructor, and `students` from a roster imported with `grader tokens import`."""
    name = f"course-{secrets.token_hex(3)}"
    made = cli("tokens", "create", "--instructor", "prof", "--course", name, "--db", server.db_url)
    assert made.code == 0, made.err
    roster = server.folder / f"{name}.csv"
    roster.write_text("student\n" + "\n".join(students) + "\n", encoding="utf-8")
    imported = cli("tokens", "import", str(roster), "--course", name, "--db", server.db_url)
    assert imported.code == 0, imported.err
    rows = csv.DictReader(io.StringIO(imported.out))
    tokens = {row["student"]: row["token"] for row in rows}
    assert list(tokens) == students
    return Course(server, name, made.out.strip(), tokens, {s: [] for s in students})


def submit(course: Course, student: str, choice: str) -> dict[str, Any]:
    done = course.as_(course.students[student], "submit", MCQ, "--choice", choice, "--json")
    assert done.code == (0 if choice == KEY else 1), done.err
    view: dict[str, Any] = json.loads(done.out)
    course.work[student].append(view)
    return view


@pytest.fixture(scope="module")
def course(live_server: ServerProcess) -> Iterator[Course]:
    made = new_course(live_server, ["ann", "bob"])
    submit(made, "ann", KEY)
    submit(made, "bob", WRONG)
    submit(made, "ann", WRONG)
    yield made


def table(out: str) -> list[list[str]]:
    """The rows of a printed table, its header left out."""
    return [line.split() for line in out.strip().splitlines()[1:]]


# -- students ----------------------------------------------------------------------------------


def test_submit_json_is_the_whole_submission(course: Course) -> None:
    view = course.work["ann"][0]
    assert {"id", "question", "status", "verdict", "report", "assignment", "attempt"} <= set(view)
    assert {"late_penalty", "revealed", "version"} <= set(view)
    assert view["id"].startswith("sub_") and view["report"]["submission"] == view["id"]
    assert (view["status"], view["verdict"], view["version"]) == ("done", "PASSED", 1)


def test_result_prints_the_report_and_exits_like_submit(course: Course) -> None:
    passed, failed = course.work["ann"][0]["id"], course.work["bob"][0]["id"]
    done = course.as_(course.students["ann"], "result", passed)
    assert done.code == 0 and done.out.startswith(f"PASSED  {MCQ}  1/1"), done.err
    done = course.as_(course.students["bob"], "result", failed, "--json")
    assert done.code == 1 and json.loads(done.out)["id"] == failed
    done = course.as_(course.students["ann"], "result", failed)  # bob's
    assert done.code == 2 and "refused the request" in done.error()


def test_history_lists_the_students_own_work_newest_first(course: Course) -> None:
    ann = course.students["ann"]
    done = course.as_(ann, "history")
    assert done.code == 0, done.err
    mine = [view["id"] for view in reversed(course.work["ann"])]
    assert [row[0] for row in table(done.out)] == mine
    assert table(done.out)[0][2:] == [MCQ, "practice", "done", "WRONG_ANSWER", "0/1"]
    done = course.as_(ann, "history", MCQ, "--limit", "1", "--json")
    page = json.loads(done.out)
    assert [view["id"] for view in page["items"]] == mine[:1] and page["next"]
    assert "older submissions not shown" in course.as_(ann, "history", "--limit", "1").err


# -- instructors -------------------------------------------------------------------------------


def test_submissions_lists_filters_and_pages(course: Course) -> None:
    everyone = [
        v["id"] for v in course.work["ann"][:1] + course.work["bob"] + course.work["ann"][1:]
    ]
    done = course.teach("course", "submissions")
    assert done.code == 0, done.err
    assert [row[0] for row in table(done.out)] == everyone  # oldest first
    assert table(done.out)[1][1:8] == ["bob", MCQ, "practice", "done", "WRONG_ANSWER", "0/1", "v1"]
    first = course.teach("course", "submissions", "--limit", "2")
    assert len(table(first.out)) == 2 and "--cursor " in first.err
    cursor = first.err.split("--cursor ")[1].split()[0]
    rest = course.teach("course", "submissions", "--limit", "2", "--cursor", cursor)
    assert [row[0] for row in table(rest.out)] == everyone[2:] and rest.err == ""
    whole = json.loads(course.teach("course", "submissions", "--limit", "1", "--all", "--json").out)
    assert [item["id"] for item in whole["items"]] == everyone and whole["next"] is None
    only = course.teach("course", "submissions", "--student", "bob", "--verdict", "WRONG_ANSWER")
    assert [row[0] for row in table(only.out)] == [course.work["bob"][0]["id"]]


def test_a_students_token_is_refused(course: Course) -> None:
    done = course.as_(course.students["ann"], "course", "submissions")
    assert done.code == 2 and "instructor" in done.error()


def test_show_and_override_keep_the_history(live_server: ServerProcess) -> None:
    course = new_course(live_server, ["cy"])
    sub = submit(course, "cy", WRONG)["id"]
    done = course.teach("course", "override", sub, "--score", "1", "--reason", "B is right too")
    assert done.code == 0, done.err
    assert done.out.startswith("v2 override by prof at ")
    assert done.out.rstrip().endswith(": B is right too (score 0 -> 1)")
    shown = course.teach("course", "show", sub)
    assert shown.code == 0, shown.err
    assert f"{sub}  cy  {MCQ}  practice" in shown.out and "choice: B" in shown.out
    assert f"WRONG_ANSWER  {MCQ}  1/1" in shown.out  # the report, with the score that counts
    history = shown.out.split("history:\n")[1].splitlines()
    assert history[0].startswith("  v1 graded by grader at ") and history[1].startswith("  v2 ")
    assert table(course.teach("course", "submissions").out)[0][-2:] == ["v2", "*"]
    student = json.loads(course.as_(course.students["cy"], "result", sub, "--json").out)
    assert (student["version"], student["report"]["score"]) == (2, 1)
    off = course.teach("course", "override", sub, "--score", "2", "--reason", "x")
    assert off.code == 2 and "between 0 and 1" in off.error()


def test_regrade_counts_and_grades_again(live_server: ServerProcess) -> None:
    course = new_course(live_server, ["dee"])
    sub = submit(course, "dee", KEY)["id"]
    done = course.teach("course", "regrade", "--submission", sub)
    assert (done.code, done.out.strip()) == (0, "queued 0, unchanged 1, already pending 0")
    done = course.teach("course", "regrade", "--question", MCQ, "--force", "--json")
    assert done.code == 0 and json.loads(done.out)["submissions"] == [sub]

    def regraded() -> bool:
        return json.loads(course.teach("course", "show", sub, "--json").out)["version"] == 2

    assert wait_until(regraded, timeout_s=30, poll_s=0.1)
    shown = course.teach("course", "show", sub).out
    assert "  v2 regrade by prof at " in shown
    unknown = course.teach("course", "regrade", "--question", "no-such-item")
    assert unknown.code == 2 and "no-such-item" in unknown.error()


def test_gradebook_is_the_servers_body(course: Course, tmp_path: Path) -> None:
    out = tmp_path / "book.csv"
    done = course.teach("course", "gradebook", "--out", str(out))
    assert (done.code, done.out.strip()) == (0, str(out)), done.err
    with httpx.Client(base_url=course.server.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {course.teacher}"}
        body = http.get("/v1/course/gradebook?format=csv", headers=headers).content
    assert out.read_bytes() == body and body.startswith(b"student,")
    book = json.loads(course.teach("course", "gradebook", "--format", "json").out)
    assert (book["course"], [row["student"] for row in book["rows"]]) == (
        course.name,
        ["ann", "bob"],
    )


def test_stats_from_the_server_and_from_the_store_agree(course: Course, tmp_path: Path) -> None:
    served = course.teach("stats", "--json")
    assert served.code == 0, served.err
    stored = cli("stats", "--db", course.server.db_url, "--course", course.name, "--json")
    assert stored.code == 0, stored.err
    assert json.loads(served.out) == json.loads(stored.out)
    [item] = json.loads(served.out)["items"]
    assert (item["id"], item["students"], item["attempts"]) == (MCQ, 2, 3)
    text = course.teach("stats")
    assert text.out.startswith("2 students, 1 items") and MCQ in text.out
    page = tmp_path / "stats.html"
    html = course.teach("stats", "--html", str(page))
    assert html.out.strip() == str(page) and "<html" in page.read_text().lower()


# -- tokens the API refuses -------------------------------------------------------------------


def test_expired_and_revoked_tokens_are_refused_with_401(course: Course) -> None:
    db = course.server.db_url
    made = cli("tokens", "create", "--student", "eve", "--course", course.name, "--db", db)
    token = made.out.strip()
    assert course.as_(token, "history").code == 0
    sessions = open_store(db)
    with sessions() as session:  # time passes: its expiry is behind it now
        session.execute(update(Token).where(Token.student == "eve").values(expires_at=1.0))
        session.commit()
    sessions.kw["bind"].dispose()
    done = course.as_(token, "history")
    assert done.code == 2 and "refused the token (this token has expired" in done.error()
    states = json.loads(cli("tokens", "list", "--course", course.name, "--json", "--db", db).out)
    assert [row["state"] for row in states if row["name"] == "eve"] == ["expired"]

    token = cli("tokens", "create", "--student", "fay", "--course", course.name, "--db", db).out
    assert course.as_(token.strip(), "history").code == 0
    revoked = cli("tokens", "revoke", "--student", "fay", "--course", course.name, "--db", db)
    assert revoked.out.strip() == "revoked 1 token(s)"
    done = course.as_(token.strip(), "history")
    assert done.code == 2 and "this token was revoked" in done.error()
