"""The platforms we accept launches from. A registration is what the LMS admin gave us (issuer,
client id, deployment ids, the platform's login, token and JWKS URLs), the server course its
launches belong to, and the LMS contexts (courses) allowed to launch into it: a registration is
often installed account-wide, so without that list any course of the platform would become this
course. `grader lti add|list|allow-context|refresh-keys|remove` manage them (grader/cli/lti.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.lti.errors import LaunchRefused
from grader.service.db import Delivery, LtiLink, LtiLogin, LtiRegistration, LtiSession, now


@dataclass(frozen=True)
class NewRegistration:
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    course: str | None = None
    #: LMS context ids whose launches are accepted (`--context`); none and not `any_context`:
    #: every launch is refused, naming the context id to add.
    contexts: list[str] = field(default_factory=list)
    any_context: bool = False
    service_hosts: list[str] = field(default_factory=list)
    allow_http_loopback: bool = False


def check_url(field: str, url: str) -> str:
    """`url` if it is an absolute http(s) URL; `BadInput` naming the field otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise BadInput(f"{field}: {url!r} is not an absolute https:// URL")
    return url


def add(session: Session, new: NewRegistration) -> LtiRegistration:
    """Store a registration; `BadInput` for a bad URL, no deployment, or a name or (issuer,
    client id) already registered."""
    for name in ("issuer", "auth_login_url", "auth_token_url", "jwks_url"):
        check_url(name.replace("_", "-"), getattr(new, name))
    if not new.deployment_ids:
        raise BadInput("deployment: give at least one deployment id (--deployment ID)")
    if session.scalar(select(LtiRegistration.id).where(LtiRegistration.name == new.name)):
        raise BadInput(f"an LTI registration named {new.name!r} exists; pick another name")
    if find(session, new.issuer, new.client_id) is not None:
        raise BadInput(f"{new.issuer} with client id {new.client_id!r} is already registered")
    row = LtiRegistration(**new.__dict__)
    session.add(row)
    session.commit()
    return row


def find(session: Session, issuer: str, client_id: str | None) -> LtiRegistration | None:
    """The registration of `issuer` and `client_id`; without a client id (the spec lets a login
    omit it), the issuer's only registration, or None when it has several."""
    query = select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if client_id is not None:
        return session.scalar(query.where(LtiRegistration.client_id == client_id))
    found = list(session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def check_context(registration: LtiRegistration, context_id: str | None) -> str:
    """The launch's context id, if the registration accepts it; `LaunchRefused` (403) naming
    the command that allows it otherwise."""
    if not context_id or len(context_id) > 255:
        raise LaunchRefused(400, "id_token: no context id (the LMS course), or one over 255 chars")
    if registration.any_context or context_id in registration.contexts:
        return context_id
    raise LaunchRefused(
        403,
        f"launch: LMS context {context_id!r} is not allowed for registration "
        f"{registration.name!r}; an admin runs `grader lti allow-context "
        f"{registration.name} {context_id}`",
    )


def allow_context(session: Session, name: str, context_id: str) -> bool:
    """Add an LMS context to a registration; False when it was there already."""
    row = named(session, name)
    if context_id in row.contexts:
        return False
    row.contexts = [*row.contexts, context_id]
    session.commit()
    return True


def flush_keys(session: Session, issuer: str | None) -> int:
    """Mark the JWKS of the registrations of `issuer` (all when None) stale: the next launch
    fetches it again, so a key the platform removed stops verifying at once."""
    query = update(LtiRegistration).values(keys_flushed_at=now())
    if issuer is not None:
        query = query.where(LtiRegistration.issuer == issuer)
    done = session.execute(query)
    session.commit()
    return int(done.rowcount)  # type: ignore[attr-defined]


def listing(session: Session) -> list[LtiRegistration]:
    return list(session.scalars(select(LtiRegistration).order_by(LtiRegistration.name)))


def named(session: Session, name: str) -> LtiRegistration:
    row = session.scalar(select(LtiRegistration).where(LtiRegistration.name == name))
    if row is None:
        raise BadInput(f"no LTI registration named {name!r} (see `grader lti list`)")
    return row


def remove(session: Session, name: str) -> int:
    """Delete a registration, its logins and sessions; the scores still owed to its line items
    are marked failed (their platform is no longer trusted). Returns how many."""
    row = named(session, name)
    links = select(LtiLink.submission_id).where(LtiLink.registration_id == row.id)
    failed = session.execute(
        update(Delivery)
        .where(Delivery.kind == "ags", Delivery.submission_id.in_(links))
        .where(Delivery.state == "pending")
        .values(state="failed", last_error=f"LTI registration {name!r} removed")
    )
    for table in (LtiLink, LtiSession, LtiLogin):
        session.execute(delete(table).where(table.registration_id == row.id))
    session.delete(row)
    session.commit()
    return int(failed.rowcount)  # type: ignore[attr-defined]
