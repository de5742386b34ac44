"""Deliveries for the operator: see them (`grader lms deliveries`) and send them now (`grader lms
redeliver`).

Re-arming is one UPDATE per call: the delivery is `pending`, due now, with attempts from 0 (a
fresh retry schedule) and the same `webhook-id` and version, so a receiver that did get it before
drops the copy, as Standard Webhooks intends. The server's sender picks it up at its next pass
(every half second). A delivered one is sent again only when asked by id with `force`; one of a
deleted client never is: nothing could sign it.

An attempt in flight while its pending delivery is re-armed may still record its outcome; the worst
that can come of it is the same message sent once more, which the receiver drops by its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.service.db import Delivery, LmsClient, Submission, now
from grader.service.lms_clients import get_client

STATES = ("pending", "delivered", "failed")
LIMIT = 50


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the operator sees it (`--json` prints these keys)."""

    id: int
    client: str
    submission: str
    external_id: str | None
    url: str
    version: int
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: float | None
    delivered_at: float | None
    webhook_id: str


def list_deliveries(
    session: Session, client: str | None = None, state: str | None = None, limit: int = LIMIT
) -> list[DeliveryRow]:
    """Deliveries, newest first (by when first owed), of `client` and in `state` when given."""
    if state is not None and state not in STATES:
        raise BadInput(f"state {state!r}: one of {', '.join(STATES)}")
    if limit < 1:
        raise BadInput(f"--limit {limit}: at least 1")
    query = _rows().order_by(Delivery.id.desc()).limit(limit)
    if client is not None:
        query = query.where(Delivery.client_id == get_client(session, client).id)
    if state is not None:
        query = query.where(Delivery.state == state)
    return [_row(delivery, name, external) for delivery, name, external in session.execute(query)]


def _rows() -> Select[Delivery, str, str | None]:
    return (
        select(Delivery, LmsClient.name, Submission.external_id)
        .join(LmsClient, LmsClient.id == Delivery.client_id)
        .join(Submission, Submission.id == Delivery.submission_id)
    )


def _row(delivery: Delivery, client: str, external_id: str | None) -> DeliveryRow:
    return DeliveryRow(
        id=delivery.id,
        client=client,
        submission=delivery.submission_id,
        external_id=external_id,
        url=delivery.url,
        version=delivery.version,
        state=delivery.state,
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
        delivered_at=delivery.delivered_at,
        webhook_id=delivery.webhook_id,
    )


def redeliver(
    session: Session,
    ids: Sequence[int] = (),
    states: Sequence[str] = (),
    client: str | None = None,
    *,
    force: bool = False,
) -> int:
    """Re-arm the deliveries named by id, or every one in `states` (`failed`, `pending`) of
    `client` (of all live clients without one); how many. By id, each must exist and belong to a
    live client, and a delivered one needs `force`: else nothing is re-armed."""
    check_selection(ids, states, client, force=force)
    if ids:
        where = _by_id(session, ids, force)
    else:
        where = _by_state(session, states, client)
    result = session.execute(
        update(Delivery)
        .where(*where)
        .values(state="pending", next_attempt_at=now(), attempts=0, delivered_at=None)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def check_selection(
    ids: Sequence[int], states: Sequence[str], client: str | None, *, force: bool
) -> None:
    """`BadInput` unless exactly one way of naming deliveries is used (checked before the store
    is opened, and again by `redeliver`)."""
    if bool(ids) == bool(states):
        raise BadInput("name the deliveries: their ids, or --failed and/or --pending")
    if ids and client is not None:
        raise BadInput("--client narrows --failed/--pending; deliveries named by id need none")
    if force and not ids:
        raise BadInput("--force re-sends delivered ones named by id; --failed/--pending take none")
    unknown = sorted(set(states) - {"failed", "pending"})
    if unknown:
        raise BadInput(f"re-arm by state: failed or pending, not {', '.join(unknown)}")


def _by_id(session: Session, ids: Sequence[int], force: bool) -> list[ColumnElement[bool]]:
    query = (
        select(Delivery, LmsClient)
        .join(LmsClient, LmsClient.id == Delivery.client_id)
        .where(Delivery.id.in_(ids))
    )
    found = {delivery.id: (delivery, owner) for delivery, owner in session.execute(query)}
    for delivery_id in ids:
        if delivery_id not in found:
            raise BadInput(f"no delivery {delivery_id}; `grader lms deliveries` lists them")
        delivery, owner = found[delivery_id]
        if owner.deleted_at is not None:
            raise BadInput(f"delivery {delivery_id}: its LMS client {owner.name!r} was deleted")
        if delivery.state == "delivered" and not force:
            raise BadInput(
                f"delivery {delivery_id} was delivered (HTTP {delivery.last_status}); "
                "--force sends it again"
            )
    where: list[ColumnElement[bool]] = [Delivery.id.in_(ids)]
    # in the same UPDATE: one delivered since the check above is not sent again unasked
    return where if force else [*where, Delivery.state != "delivered"]


def _by_state(
    session: Session, states: Sequence[str], client: str | None
) -> list[ColumnElement[bool]]:
    live = select(LmsClient.id).where(LmsClient.deleted_at.is_(None))
    if client is not None:
        live = live.where(LmsClient.id == get_client(session, client).id)
    return [or_(*(Delivery.state == state for state in states)), Delivery.client_id.in_(live)]
