"""The AGS score a submission made through an LTI launch owes, written into the same durable
outbox as the webhook callbacks (a `Delivery` of kind `ags`), in the transaction that writes the
report version (`store.owe_callback` calls `owe_score`): a grading, a regrade and an override
each owe the newest score, and the delivery sender retries it on the webhook schedule.

Each owing takes a new millisecond stamp, above every stamp of the same line item and user: AGS
keeps the score with the newest `timestamp` and may refuse an older or equal one.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from grader.service.db import Delivery, LtiLink, Submission

KIND = "ags"


def scores_url(lineitem: str) -> str:
    """The line item's scores endpoint: `/scores` added to its path, its query string kept."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def owe_score(session: Session, row: Submission, webhook_id: str) -> None:
    """If `row` came through a launch with a line item: owe its newest score (not committed)."""
    link = session.get(LtiLink, row.id)
    if link is None or link.lineitem is None:
        return
    if (row.report or {}).get("status") == "error":
        return  # no score to give, and a score without one would clear the grade it has
    newest = session.scalar(
        select(func.max(LtiLink.stamp_ms)).where(
            LtiLink.registration_id == link.registration_id,
            LtiLink.lineitem == link.lineitem,
            LtiLink.user_id == link.user_id,
        )
    )
    link.stamp_ms = max(int(time.time() * 1000), int(newest or 0) + 1)
    fresh = {
        "url": scores_url(link.lineitem),
        "webhook_id": webhook_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": time.time(),
        "last_status": None,
        "last_error": None,
        "delivered_at": None,
        "version": row.version,
    }
    rearmed = session.execute(
        update(Delivery).where(Delivery.submission_id == row.id).values(**fresh)
    )
    if not rearmed.rowcount:  # type: ignore[attr-defined]
        session.add(Delivery(submission_id=row.id, client_id=None, kind=KIND, **fresh))
