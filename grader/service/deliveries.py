"""Reports out: POST each graded LMS submission to its callback URL, signed, until it lands.

`store.finish` writes a pending `Delivery` in the same transaction as the report, so a report is
never graded without being owed. The sender keeps every state in the database: a restarted server
picks up where the last one stopped. Each attempt is claimed with one conditional UPDATE (the
attempt counter moves and a lease is taken), so two server processes never send the same attempt.
A crash mid-attempt leaves the lease to expire, and the delivery is sent again with the same
`webhook-id`, which lets the receiver drop the duplicate, as Standard Webhooks intends.

The report in the body is what the student may see (views.py): in an assignment, scaled and cut by
its reveal rule as of the attempt being sent, so a retry after the due date may show more.

Outcomes: 2xx delivered; 410 Gone failed at once; anything else (a 3xx included: redirects are
never followed, a callback must not be bounced elsewhere) is retried on the spec's schedule, later
if the receiver's `Retry-After` asks, and failed once the schedule is spent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.service import logs
from grader.service.db import Delivery, LmsClient, Submission
from grader.service.lms_clients import client_secrets
from grader.service.settings import RETRY_SCHEDULE, ServiceSettings
from grader.service.views import Courses, Shown, fallback, shown
from grader.service.webhooks import host_allowed, signed_headers

if TYPE_CHECKING:
    from grader.lti.ags import ScorePoster

log = logging.getLogger("grader.service.deliveries")

BATCH = 50
EVENT_TYPE = "submission.graded"
REGRADE_TYPE = "submission.regraded"
MAX_RETRY_AFTER_S = max(RETRY_SCHEDULE)  # a receiver cannot park a delivery for longer


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one POST got back: a status, or the transport error that stood in for one."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def payload(row: Submission, view: Shown | None = None) -> dict[str, Any]:
    """The Standard Webhooks envelope (`type`, `timestamp`, `data`) of a graded submission, with
    the report as `view` shows it (without one: whole in practice, the verdict in an assignment).

    A later version of the report (a regrade, an override) is `submission.regraded`."""
    view = view or fallback(row)
    finished = datetime.fromtimestamp(row.finished_at or time.time(), tz=UTC)
    version = row.version or 0  # None on a row not yet stored (the column default is 0)
    return {
        "type": EVENT_TYPE if version <= 1 else REGRADE_TYPE,
        "timestamp": finished.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": row.id,
            "submission_id": row.external_id,
            "student": row.student,
            "question": row.question,
            "course": row.course,
            "report": view.report,
            "assignment": view.assignment,
            "attempt": view.attempt,
            "late_penalty": view.late_penalty,
            "revealed": view.revealed,
            "version": max(version, 1),
        },
    }


class DeliverySender:
    """Sends due deliveries from a background thread; `deliver_due` is one pass, for tests too.

    `courses` (the server's state) holds the assignments the reports are cut by; without it an
    assignment's report is sent at the verdict level only.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: ServiceSettings,
        *,
        poll_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        courses: Courses | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.courses = courses
        self.poll_s = poll_s
        self.lease_s = 2 * settings.delivery_timeout_s + 30
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=settings.delivery_timeout_s,
            transport=transport,
            trust_env=False,  # a proxy from the environment must not see or reroute callbacks
            headers={"user-agent": "torchgrader-webhooks/1", "content-type": "application/json"},
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scores: ScorePoster | None = None  # made on the first LTI score (grader/lti/ags)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="grader-deliveries", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._client.close()
        if self._scores is not None:
            self._scores.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # noqa: BLE001 - the sender must outlive a bad row or a lost database
                log.exception("delivery pass failed; trying again")
            self._stop.wait(self.poll_s)

    def deliver_due(self, now: float | None = None) -> int:
        """Attempt every delivery due at `now` that this sender can claim; returns how many."""
        now = time.time() if now is None else now
        with self.sessions() as session:
            due = session.execute(
                select(Delivery.id, Delivery.attempts)
                .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(BATCH)
            ).all()
        sent = 0
        for delivery_id, attempts in due:
            if self._claim(delivery_id, attempts, now):
                self._attempt(delivery_id, attempts + 1, now)
                sent += 1
        return sent

    def _claim(self, delivery_id: int, attempts: int, now: float) -> bool:
        """Take attempt `attempts + 1` with a lease; False if another sender took it first."""
        with self.sessions() as session:
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.state == "pending",
                    Delivery.attempts == attempts,
                    Delivery.next_attempt_at <= now,
                )
                .values(attempts=attempts + 1, next_attempt_at=now + self.lease_s)
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def _attempt(self, delivery_id: int, attempt: int, now: float) -> None:
        started = time.monotonic()
        with self.sessions() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is not None and delivery.kind == "ags":
                self._attempt_score(session, delivery, attempt, now)
                return
            row = session.get(Submission, delivery.submission_id) if delivery else None
            client = session.get(LmsClient, delivery.client_id) if delivery else None
            if delivery is None or row is None or client is None:
                return
            secrets = client_secrets(session, client.id)
            view = fallback(row) if self.courses is None else shown(self.courses, session, row)
        if not host_allowed(delivery.url, client.callback_hosts):
            reason = f"{delivery.url} is not on a callback host registered for {client.name!r}"
            self._record(delivery, attempt, DeliveryOutcome(None, reason), now, final=True)
            return
        if not secrets:
            reason = f"LMS client {client.name!r} has no signing secret"
            self._record(delivery, attempt, DeliveryOutcome(None, reason), now, final=True)
            return
        body = json.dumps(payload(row, view), separators=(",", ":")).encode("utf-8")
        # every current secret signs (newest first), so an LMS mid-rotation verifies with either
        headers = signed_headers(secrets, delivery.webhook_id, body, time.time())
        outcome = self._post(delivery.url, body, headers)
        self._record(delivery, attempt, outcome, now + time.monotonic() - started)

    def _attempt_score(
        self, session: Session, delivery: Delivery, attempt: int, now: float
    ) -> None:
        """An LTI launch's score to its line item (grader/lti/ags.py), recorded like a callback:
        the same retries, lease and schedule; a score that cannot be sent fails at once."""
        from grader.lti.ags import ScorePoster, score_due

        started = time.monotonic()
        row = session.get(Submission, delivery.submission_id)
        if row is None:
            return
        view = fallback(row) if self.courses is None else shown(self.courses, session, row)
        due = score_due(session, row, view.report, self.courses)
        session.close()
        if isinstance(due, str):
            self._record(delivery, attempt, DeliveryOutcome(None, due), now, final=True)
            return
        if self._scores is None:
            self._scores = ScorePoster(self.sessions, self.settings.delivery_timeout_s)
        status, error = self._scores.post(due)
        outcome = DeliveryOutcome(status, error)
        self._record(delivery, attempt, outcome, now + time.monotonic() - started)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryOutcome:
        """One POST; the response body is never read, so a receiver cannot flood the sender."""
        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
                wait = retry_after_seconds(response.headers.get("retry-after"), time.time())
                if 300 <= status < 400:
                    where = response.headers.get("location", "nowhere")
                    return DeliveryOutcome(status, f"redirect to {where} not followed", wait)
                return DeliveryOutcome(status, None if status < 300 else f"HTTP {status}", wait)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return DeliveryOutcome(None, f"{type(exc).__name__}: {exc}")

    def _record(
        self,
        delivery: Delivery,
        attempt: int,
        outcome: DeliveryOutcome,
        now: float,
        final: bool = False,
    ) -> None:
        """Write the attempt's outcome, if the attempt is still this sender's and the delivery
        still owes the same message (a regrade in between gives it a new `webhook-id`)."""
        values = self._next_state(attempt, outcome, now, final)
        with self.sessions() as session:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.attempts == attempt,
                    Delivery.webhook_id == delivery.webhook_id,
                )
                .values(last_status=outcome.status, last_error=outcome.error, **values)
            )
            session.commit()
        wait = values.get("next_attempt_at")
        logs.event(
            "delivery",
            delivery.submission_id,
            attempt=attempt,
            version=delivery.version,
            status=outcome.status,
            state=values["state"],
            next_attempt_in_s=round(wait - now, 1) if wait is not None else None,
            error=outcome.error,
        )

    def _next_state(
        self, attempt: int, outcome: DeliveryOutcome, now: float, final: bool
    ) -> dict[str, Any]:
        status = outcome.status
        if status is not None and 200 <= status < 300:
            return {"state": "delivered", "delivered_at": now}
        if final or status == 410:
            return {"state": "failed"}
        delays = self.settings.retry_delays()
        if attempt >= len(delays):
            return {"state": "failed"}
        wait = max(delays[attempt], outcome.retry_after or 0.0)
        return {"state": "pending", "next_attempt_at": now + wait}
