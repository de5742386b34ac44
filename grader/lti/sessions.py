"""What a launch lets its user do afterwards: see their item, submit it, read their reports.

The launch answers with a session cookie (`SameSite=None; Secure; Partitioned; HttpOnly`, so it
comes back inside the LMS's iframe, in a partition of the LMS's own), stored as SHA-256. For
browsers that block even partitioned third-party cookies, the page links "Open in a new window"
to our login initiation again (grader/lti/oidc.py `relaunch_url`): that window logs in on its
own and gets its own session, so no link carries a session from one browser to another.
Each form carries a value derived from the session token (`form_check`), so a cross-site form
post, which the browser would send the cookie with, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from grader.service.db import LtiSession, now

COOKIE = "lti_session"
#: One cookie per login, named by its state (`lti_state_STATE`), so two launches under way in
#: one browser (two tools framed on one LMS page, two tabs) do not overwrite each other's.
STATE_COOKIE = "lti_state_"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def form_check(token: str) -> str:
    """The anti-forgery value a page's forms carry: only a holder of the token can make it."""
    return hmac.new(token.encode("utf-8"), b"lti-form", hashlib.sha256).hexdigest()


def start(session: Session, row: LtiSession, ttl_s: float) -> str:
    """Store `row` (its token hash set here) and commit; expired sessions go. The token."""
    token = secrets.token_urlsafe(24)
    row.token_hash = digest(token)
    row.expires_at = now() + ttl_s
    session.execute(delete(LtiSession).where(LtiSession.expires_at < now()))
    session.add(row)
    session.commit()
    return token


def find(session: Session, token: str | None) -> LtiSession | None:
    """The live session the cookie's token opens, or None."""
    if not token:
        return None
    row = session.scalar(select(LtiSession).where(LtiSession.token_hash == digest(token)))
    return row if row is not None and row.expires_at > now() else None
