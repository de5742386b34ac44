"""Refusals quote at most a short prefix of what was sent: an error never echoes a large input."""

from __future__ import annotations

from grader.service.errors import ERROR_CAP, error_body
from tests.service.conftest import InProcess, bearer


def test_an_unknown_question_of_a_megabyte_is_refused_in_a_short_line(app: InProcess) -> None:
    token = app.token("ann")
    name = "q" * 900_000
    answer = app.client.post(
        "/v1/submissions", data={"question": name, "choice": "A"}, headers=bearer(token)
    )
    assert answer.status_code in (404, 413, 422)
    text = answer.json()["error"]
    assert len(text) <= ERROR_CAP and "\n" not in text


def test_error_bodies_are_one_line_and_capped() -> None:
    assert error_body("a\nb\r\n  c") == {"error": "a b c"}
    long = error_body("x" * 10_000)["error"]
    assert len(long) == ERROR_CAP and long.endswith("…")
