"""Assignment and Grade Services 2.0: the score a graded launch submission owes its line item,
and its POST (the delivery sender calls `ScorePoster.post` for deliveries of kind `ags`).

The spec's traps, each handled here: every score carries `scoreGiven` (a score without one
clears the grade) and a `comment` (one without erases the comment the gradebook had); the
line-item URL may carry a query string, kept when `/scores` is appended to its path; the
line item must still be an https URL of the registration's hosts when the score is sent
(grader/lti/endpoints.py: the claim is platform data, not a place to send our token); the
`timestamp` is the millisecond stamp stored with the submission's link, strictly increasing per
line item and user (grader/lti/outbox.py), and a score whose stamp a newer one has passed is
never sent (the platform would refuse it, or worse, take it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from grader.lti import claims, endpoints
from grader.lti.access import AccessTokens, TokenRefused
from grader.lti.outbox import scores_url
from grader.service.assignments import counted
from grader.service.db import LtiLink, LtiRegistration, Submission
from grader.service.views import Courses

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
COMMENT_CHARS = 200


def iso_ms(stamp_ms: int) -> str:
    """An ISO 8601 UTC time with milliseconds, as AGS wants its `timestamp`."""
    moment = datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def comment(row: Submission, report: dict[str, Any]) -> str:
    """A short line for the gradebook: the verdict, the score, the attempt, the version."""
    score = f"{report['score']:g}/{report['max_score']:g}"
    parts = [f"{str(report['verdict']).lower().replace('_', ' ')}: {score}"]
    if row.attempt is not None:
        parts.append(f"attempt {row.attempt}")
    if (row.version or 0) > 1:
        parts.append("regraded" if not report.get("override") else "changed by the instructor")
    return (", ".join(parts) + " (torchgrader)")[:COMMENT_CHARS]


def score_body(
    row: Submission, report: dict[str, Any], user_id: str, stamp_ms: int
) -> dict[str, Any]:
    return {
        "userId": user_id,
        "scoreGiven": max(0.0, float(report["score"])),
        "scoreMaximum": float(report["max_score"]),
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": iso_ms(stamp_ms),
        "comment": comment(row, report),
    }


@dataclass(frozen=True)
class ScoreDue:
    """A score to POST: to whom (the registration whose token it needs), where, and what."""

    registration_id: int
    url: str
    body: dict[str, Any]


def score_due(
    session: Session, row: Submission, report: dict[str, Any] | None, courses: Courses | None
) -> ScoreDue | str:
    """The score `row` owes now, as the student's view (`report`) scores it, or in an assignment
    the score that counts (its best or last attempt: `counted`); a string saying why nothing can
    be sent (the delivery then fails at once)."""
    link = session.get(LtiLink, row.id)
    if link is None or link.lineitem is None:
        return "no LTI line item for this submission (its registration was removed?)"
    newest = session.scalar(
        select(func.max(LtiLink.stamp_ms)).where(
            LtiLink.registration_id == link.registration_id,
            LtiLink.lineitem == link.lineitem,
            LtiLink.user_id == link.user_id,
        )
    )
    if newest is not None and newest > link.stamp_ms:
        return "superseded: a newer score for this line item and user is owed"
    if report is None or report.get("max_score", 0) <= 0:
        return "the report has no score to post"
    registration = session.get(LtiRegistration, link.registration_id)
    if registration is None:
        return "the submission's LTI registration was removed"
    refused = endpoints.refusal(registration, link.lineitem)
    if refused is not None:
        return f"line item refused: {refused}"
    body = score_body(row, report, link.user_id, link.stamp_ms)
    if courses is not None:
        body |= _counting(session, row, courses)
    return ScoreDue(link.registration_id, scores_url(link.lineitem), body)


def _counting(session: Session, row: Submission, courses: Courses) -> dict[str, Any]:
    """In an assignment: the score that counts among the student's attempts at the item, on the
    assignment's points (what the server's gradebook shows); {} in practice."""
    assignment = courses.catalog.assignments.get(row.assignment or "")
    entry = assignment.entry(row.question) if assignment is not None else None
    if assignment is None or entry is None:
        return {}
    tries = session.scalars(
        select(Submission)
        .where(
            Submission.student == row.student,
            Submission.course == row.course,
            Submission.assignment == row.assignment,
            Submission.question == row.question,
        )
        .order_by(Submission.attempt)
    )
    # An attempt the grader failed on (`status: error`) owes no score and counts for none here:
    # under `counts: last` it would otherwise post 0 over the grade the student has.
    graded = [t for t in tries if (t.report or {}).get("status") != "error"]
    score = counted(assignment, entry, graded)
    if score is None:
        return {}
    return {"scoreGiven": score, "scoreMaximum": entry.points}


class ScorePoster:
    """POSTs scores with a cached access token for the score scope."""

    def __init__(self, sessions: sessionmaker[Session], timeout_s: float) -> None:
        self.client = httpx.Client(follow_redirects=False, timeout=timeout_s, trust_env=False)
        self.tokens = AccessTokens(sessions, self.client)

    def post(self, due: ScoreDue) -> tuple[int | None, str | None]:
        """(HTTP status, error) of one POST; a refused token is (None, why)."""
        try:
            token = self.tokens.token(due.registration_id, [claims.SCOPE_SCORE])
        except TokenRefused as exc:
            return None, str(exc)
        headers = {"authorization": f"Bearer {token}", "content-type": SCORE_TYPE}
        try:
            response = self.client.post(due.url, json=due.body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if response.status_code == 401:
            self.tokens.forget(due.registration_id)  # expired early or revoked: ask anew next time
        status = response.status_code
        return status, None if 200 <= status < 300 else f"HTTP {status}: {response.text[:200]}"

    def close(self) -> None:
        self.client.close()
