"""A launched student's submission: through the normal intake, graded, shown as the reveal rule
allows, and its score posted to the launch's line item (AGS) through the webhook outbox: with its
comment, again after a regrade and an override, retried when the platform fails, never stale."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from sqlalchemy import select

from grader.courses.catalog import Catalog
from grader.models.assignment import Assignment
from grader.service import tokens
from grader.service.db import Delivery, LtiLink, Submission
from tests.lti.conftest import MCQ, WEEK, Browser, Tool, student_of
from tests.lti.platform import FakePlatform, LaunchSpec, Misbehave


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


@pytest.fixture
def tool(graded_tool: Tool) -> Tool:
    """These tests launch into `WEEK`: the tool's catalog holds it."""
    return graded_tool


@pytest.fixture(autouse=True)
def _graded_link(browser: Browser) -> None:
    platform = browser.platform
    platform.next_launch = LaunchSpec(
        sub="student-42",
        custom={"item": MCQ, "assignment": WEEK},
        lineitem=platform.lineitem_url(1),
    )


def submit(browser: Browser, choice: str) -> str:
    page = browser.launch()
    assert page.status_code == 200, page.text
    check = re.search(r'name="check" value="([^"]+)"', page.text)
    assert check
    response = browser.post("/lti/submit", data={"check": check.group(1), "choice": choice})
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def test_a_submission_lands_in_the_gradebook_with_its_comment(browser: Browser) -> None:
    platform = browser.platform
    submission_id = submit(browser, "B")
    report = browser.get(f"/lti/submissions/{submission_id}")
    assert report.status_code == 200 and "PASSED" in report.text
    wait_for(lambda: platform.gradebook)
    score = platform.gradebook[("1", "student-42")]
    assert score["scoreGiven"] == 1.0 and score["scoreMaximum"] == 1.0
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert score["comment"].startswith("passed: 1/1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", score["timestamp"])
    with browser.tool.sessions() as session:
        row = session.get(Submission, submission_id)
        student = student_of(platform, "student-42")
        assert row is not None and row.student == student and row.course == "tl-101"
        delivery = session.scalar(select(Delivery).where(Delivery.submission_id == row.id))
        assert delivery is not None and delivery.kind == "ags" and delivery.client_id is None


def test_a_regrade_and_an_override_post_again(browser: Browser) -> None:
    platform = browser.platform
    submission_id = submit(browser, "B")
    wait_for(lambda: len(platform.scores) == 1)
    with browser.tool.sessions() as session:
        prof = tokens.create_token(session, "prof", "tl-101", role=tokens.INSTRUCTOR)
    auth = {"authorization": f"Bearer {prof}"}
    regrade = browser.client.post(
        f"{browser.tool.url}/v1/course/regrade",
        json={"submission": submission_id, "force": True},
        headers=auth,
    )
    assert regrade.status_code == 200, regrade.text
    wait_for(lambda: len(platform.scores) == 2)
    assert "regraded" in platform.scores[1]["comment"]
    override = browser.client.post(
        f"{browser.tool.url}/v1/course/submissions/{submission_id}/override",
        json={"score": 0.5, "reason": "half marks: explained in class"},
        headers=auth,
    )
    assert override.status_code == 200, override.text
    wait_for(lambda: len(platform.scores) == 3)
    newest = platform.gradebook[("1", "student-42")]
    assert newest["scoreGiven"] == 0.5 and "instructor" in newest["comment"]
    stamps = [score["timestamp"] for score in platform.scores]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert platform.refused_scores == []


def test_a_platform_that_fails_once_is_retried(browser: Browser) -> None:
    platform = browser.platform
    platform.misbehave = Misbehave(fail_scores=1)
    submit(browser, "A")
    wait_for(lambda: platform.gradebook)
    assert platform.refused_scores == [(503, "down for maintenance")]
    assert platform.gradebook[("1", "student-42")]["scoreGiven"] == 0.0
    assert platform.gradebook[("1", "student-42")]["comment"].startswith("wrong answer: 0/1")


def test_the_access_token_is_cached(browser: Browser) -> None:
    platform = browser.platform
    submit(browser, "A")
    wait_for(lambda: len(platform.scores) == 1)
    submit(browser, "B")
    wait_for(lambda: len(platform.scores) == 2)
    assert platform.token_requests == 1


def test_a_stale_score_is_refused_by_the_platform_and_never_sent_by_us(
    browser: Browser,
) -> None:
    platform: FakePlatform = browser.platform
    platform.misbehave = Misbehave(fail_scores=1)  # the first attempt's score waits for a retry
    browser.tool.sender.stop()  # hold every score back: two attempts, both owed
    first = submit(browser, "A")
    second = submit(browser, "B")
    with browser.tool.sessions() as session:
        rows = {d.submission_id: d for d in session.scalars(select(Delivery))}
    assert set(rows) == {first, second}
    browser.tool.sender.deliver_due()
    browser.tool.sender.deliver_due(time.time() + 60)
    assert [score["scoreGiven"] for score in platform.scores] == [1.0]  # the newer only
    with browser.tool.sessions() as session:
        stale = session.scalar(select(Delivery).where(Delivery.submission_id == first))
        assert stale is not None and stale.state == "failed"
        assert "superseded" in (stale.last_error or "")
    # and the platform itself refuses an older timestamp than the one it holds
    older = dict(platform.scores[0], timestamp="2000-01-01T00:00:00.000Z")
    token = next(iter(platform.tokens))
    refused = browser.client.post(
        f"{platform.url}/courses/7/lineitems/1/scores?type=quiz",
        json=older,
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/vnd.ims.lis.v1.score+json",
        },
    )
    assert refused.status_code == 400 and "stale" in refused.text


def test_a_lost_query_string_is_refused_by_the_platform(browser: Browser) -> None:
    from grader.lti.outbox import scores_url

    assert scores_url("https://lms.example/li/1?type=quiz") == (
        "https://lms.example/li/1/scores?type=quiz"
    )
    assert scores_url("https://lms.example/li/1/") == "https://lms.example/li/1/scores"


def test_a_submit_without_the_session_cookie_says_what_to_do(browser: Browser) -> None:
    page = browser.launch()
    check = re.search(r'name="check" value="([^"]+)"', page.text)
    assert check
    relaunch = re.search(r'<a href="([^"]+)" target="_blank"', page.text)
    assert relaunch and "Open in a new window" in page.text
    browser.cookies.clear()
    response = browser.post("/lti/submit", data={"check": check.group(1), "choice": "B"})
    assert response.status_code == 401 and "new window" in response.text
    # the new window logs in again at the top level: its own state, nonce and session
    login = browser.client.get(unescape(relaunch.group(1)))
    browser._keep(login)
    again = browser.post_launch(*browser.authorize(login))
    assert again.status_code == 200 and "lti_session" in browser.cookies
    assert 'name="choice"' in browser.get("/lti/item").text


def test_a_forged_form_is_refused(browser: Browser) -> None:
    browser.launch()
    response = browser.post("/lti/submit", data={"check": "forged", "choice": "B"})
    assert response.status_code == 403


def test_another_students_report_is_not_shown(browser: Browser) -> None:
    submission_id = submit(browser, "B")
    browser.platform.next_launch = LaunchSpec(sub="someone-else", custom={"item": MCQ})
    browser.launch()
    assert browser.get(f"/lti/submissions/{submission_id}").status_code == 404


def _quiz_catalog() -> Catalog:
    now = datetime.now(UTC)
    quiz = Assignment.model_validate(
        {
            "schema_version": 1,
            "id": "quiz",
            "title": "Week 3 quiz",
            "course": "tl-101",
            "opens": (now - timedelta(days=1)).isoformat(),
            "due": (now + timedelta(days=1)).isoformat(),
            "attempts": 2,
            "counts": "best",
            "items": [{"id": MCQ, "points": 5}],
        }
    )
    return Catalog(assignments={"quiz": quiz})


def test_in_an_assignment_the_best_attempt_counts_and_attempts_are_limited(
    make_tool, platform: FakePlatform
) -> None:
    tool = make_tool(catalog=_quiz_catalog())
    platform.next_launch = LaunchSpec(
        sub="student-7",
        custom={"item": MCQ, "assignment": "quiz"},
        lineitem=platform.lineitem_url(2),
    )
    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        submit(browser, "B")
        wait_for(lambda: len(platform.scores) == 1)
        submit(browser, "A")
        wait_for(lambda: len(platform.scores) == 2)
        best = platform.gradebook[("2", "student-7")]
        assert best["scoreGiven"] == 5.0 and best["scoreMaximum"] == 5.0
        assert "attempt 2" in best["comment"]
        page = browser.launch()
        check = re.search(r'name="check" value="([^"]+)"', page.text)
        assert check
        third = browser.post("/lti/submit", data={"check": check.group(1), "choice": "B"})
        assert third.status_code == 409 and "attempts used up" in third.text


@pytest.mark.parametrize(
    ("item", "answer", "field"),
    [
        ("binary-metrics", {"file": ("solution.py", b"def f():\n    return 1\n")}, "file"),
        ("predict-resnet18-batch-shape", {"data": {"choice": "(8, 1000)"}}, "choice"),
    ],
    ids=["code-file", "predict-text"],
)
def test_a_file_or_a_typed_answer_is_taken(
    browser: Browser, item: str, answer: dict, field: str
) -> None:
    browser.platform.next_launch = LaunchSpec(sub="student-5", custom={"item": item})
    page = browser.launch()
    assert page.status_code == 200 and f'name="{field}"' in page.text
    check = re.search(r'name="check" value="([^"]+)"', page.text)
    assert check
    data = {"check": check.group(1)} | answer.get("data", {})
    files = {"file": answer["file"]} if "file" in answer else None
    response = browser.post("/lti/submit", data=data, files=files)
    assert response.status_code == 303, response.text
    report = browser.get(response.headers["location"].removeprefix(browser.tool.url))
    assert report.status_code == 200 and "Score:" in report.text
    with browser.tool.sessions() as session:
        student = student_of(browser.platform, "student-5")
        row = session.scalar(select(Submission).where(Submission.student == student))
        assert row is not None and row.question == item and row.status == "done"


def test_an_error_attempt_counts_for_no_score_in_the_gradebook(browser: Browser) -> None:
    """Under `counts: last`, an attempt the grader failed on must not make the score owed for
    an earlier attempt (a regrade of it, say) a 0."""
    from grader.lti import ags

    browser.tool.sender.stop()
    first = submit(browser, "B")
    second = submit(browser, "A")
    with browser.tool.sessions() as session:
        failed = session.get(Submission, second)
        assert failed is not None and failed.report is not None
        failed.report = failed.report | {"status": "error", "verdict": "INTERNAL_ERROR"}
        link = session.get(LtiLink, second)
        assert link is not None
        link.stamp_ms = 0  # an error report owes no score, so it takes no stamp
        session.commit()
        row = session.get(Submission, first)
        assert row is not None
        due = ags.score_due(session, row, row.report, browser.tool.state)
    assert not isinstance(due, str) and due.body["scoreGiven"] == 1.0
