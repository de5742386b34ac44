"""The gradebook (`GET /v1/course/gradebook`) of a small course worked out by hand: the roster
and the LMS's students, the best and the last attempt, a late penalty and an override, as the
exact JSON and CSV an instructor downloads.

The app runs in process, graded inline, with the assignments written as files and the clock set
by the test (test_course.py's classroom).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from grader.bank import Bank
from tests.service.conftest import InProcess
from tests.service.test_assignments import (
    COURSE,
    DUE,
    KEY,
    MCQ,
    NUMERIC,
    SECOND,
    WRONG,
    error,
    quiz,
)
from tests.service.test_course import OTHER, Classroom, lms_submission, open_classroom

LAST_DUE = DUE + timedelta(days=1)
LATE = {"accept": "with_penalty", "penalty": 0.1, "per": "day"}
ASSIGNMENTS = (
    quiz(),  # best attempt counts: the MCQ for 5 points, the numeric item for 2
    quiz(
        "quiz-last",
        counts="last",
        due=LAST_DUE.isoformat(),
        late=LATE,
        items=[{"id": MCQ, "points": 5}],
    ),
    quiz("other-quiz", course=OTHER),
)
HEADER = (
    "student,quiz/finetuning-purpose,quiz/precision-tp85-fp15-fn10,"
    "quiz-last/finetuning-purpose,total"
)


@pytest.fixture
def room(make_app: Callable[..., InProcess], tmp_path: Path, course_bank: Bank) -> Classroom:
    return open_classroom(make_app, tmp_path / "assignments", course_bank, ASSIGNMENTS)


def gradebook(room: Classroom, **params: Any) -> Any:
    return room.ok("/v1/course/gradebook", **params)


def csv_text(room: Classroom, **params: Any) -> str:
    answer = room.get("/v1/course/gradebook", format="csv", **params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    return answer.text


def a_term(room: Classroom) -> None:
    """alice: quiz MCQ wrong then right (best: 5), numeric right (2), quiz-last right then wrong
    (last: 0). bob: quiz MCQ wrong, overridden to half (2.5), no numeric, quiz-last right two
    started days late (20% off: 4). carol: on the roster, nothing sent. erin: from the LMS, no
    token, quiz MCQ right (5). dave: another course's. The instructor is no row."""
    alice, bob = room.student("alice"), room.student("bob")
    room.student("carol")
    room.submit(alice, WRONG)
    room.submit(alice, KEY)
    room.submit(alice, "0.85", question=NUMERIC)
    room.submit(alice, KEY, assignment="quiz-last")
    room.submit(alice, WRONG, assignment="quiz-last")
    overridden = room.submit(bob, WRONG)
    assert room.override(overridden, 0.5, "half right").status_code == 200
    lms_submission(room, question=MCQ, choice=KEY, assignment="quiz", student="erin")
    room.submit(room.student("dave", course=OTHER), KEY, assignment="other-quiz")
    room.clock.now = LAST_DUE + timedelta(days=1) + SECOND
    room.submit(bob, KEY, assignment="quiz-last")


def column(assignment: str, item: str, points: float) -> dict[str, Any]:
    return {"id": f"{assignment}/{item}", "assignment": assignment, "item": item, "points": points}


def test_the_gradebook_of_a_small_course_exactly(room):
    a_term(room)
    mcq, numeric, last = "quiz/" + MCQ, "quiz/" + NUMERIC, "quiz-last/" + MCQ
    assert gradebook(room) == {
        "course": COURSE,
        "assignment": None,
        "columns": [
            column("quiz", MCQ, 5.0),
            column("quiz", NUMERIC, 2.0),
            column("quiz-last", MCQ, 5.0),
        ],
        "rows": [
            {"student": "alice", "scores": {mcq: 5.0, numeric: 2.0, last: 0.0}, "total": 7.0},
            {"student": "bob", "scores": {mcq: 2.5, numeric: None, last: 4.0}, "total": 6.5},
            {"student": "carol", "scores": {mcq: None, numeric: None, last: None}, "total": 0.0},
            {"student": "erin", "scores": {mcq: 5.0, numeric: None, last: None}, "total": 5.0},
        ],
        "max_total": 12.0,
    }
    assert csv_text(room) == (
        f"{HEADER}\n"
        "alice,5.00,2.00,0.00,7.00\n"
        "bob,2.50,,4.00,6.50\n"
        "carol,,,,0.00\n"
        "erin,5.00,,,5.00\n"
    )


def test_one_assignments_gradebook(room):
    a_term(room)
    assert csv_text(room, assignment="quiz-last") == (
        "student,quiz-last/finetuning-purpose,total\n"
        "alice,0.00,0.00\n"
        "bob,4.00,4.00\n"
        "carol,,0.00\n"  # the roster, and who submitted to it: erin did not
    )
    one = gradebook(room, assignment="quiz-last")
    assert (one["assignment"], one["max_total"], len(one["columns"])) == ("quiz-last", 5.0, 1)


def test_another_courses_assignment_is_as_unknown_as_a_missing_one(room):
    room.submit(room.student("dave", course=OTHER), KEY, assignment="other-quiz")
    reason = error(room.get("/v1/course/gradebook", assignment="other-quiz"), 404)
    assert reason == "unknown assignment 'other-quiz'"
    assert error(room.get("/v1/course/gradebook", assignment="nope"), 404) == (
        "unknown assignment 'nope'"
    )
    assert "format: String should match pattern" in error(
        room.get("/v1/course/gradebook", format="xlsx"), 422
    )


def test_a_student_id_a_spreadsheet_would_run_is_written_as_text(room):
    names = ['=HYPERLINK("http://evil.example","x")', "+1", "-1", "@SUM(A1)", "plain"]
    for name in names[:3] + names[4:]:
        room.submit(room.student(name), KEY)
    lms_submission(room, question=MCQ, choice=KEY, assignment="quiz", student=names[3])
    rows = list(csv.reader(io.StringIO(csv_text(room, assignment="quiz"))))
    written = {row[0]: row[1] for row in rows[1:]}
    assert written == {
        "'+1": "5.00",
        "'-1": "5.00",
        '\'=HYPERLINK("http://evil.example","x")': "5.00",
        "'@SUM(A1)": "5.00",
        "plain": "5.00",
    }
    assert sorted(row["student"] for row in gradebook(room)["rows"]) == sorted(names)
