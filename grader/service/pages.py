"""Pages of submissions: keyset pagination on (created_at, id), so a page is stable while new
submissions arrive, and an opaque cursor that a client passes back unchanged."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.service.db import Submission

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    rows: list[Submission]
    next: str | None


def read(
    session: Session,
    query: Select[Submission],
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool = False,
) -> Page:
    """Up to `limit` rows of `query` after `cursor`, and the cursor of the page after them."""
    key = (Submission.created_at, Submission.id)
    if cursor is not None:
        at, last = _decode(cursor)
        if newest_first:
            query = query.where(or_(key[0] < at, and_(key[0] == at, key[1] < last)))
        else:
            query = query.where(or_(key[0] > at, and_(key[0] == at, key[1] > last)))
    order = [column.desc() for column in key] if newest_first else list(key)
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _encode(rows[-1]) if more else None)


def _encode(row: Submission) -> str:
    raw = json.dumps([row.created_at, row.id]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last = json.loads(raw)
        return float(at), str(last)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadInput("cursor: not a cursor this server gave; start again without it") from exc
