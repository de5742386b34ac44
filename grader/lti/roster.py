"""Names and Role Provisioning Services 2.0: a course's membership, read page by page (each page
names the next in its `Link: <...>; rel="next"` header), and imported into the identities the
server already has: a student token for each learner, an instructor token for each instructor,
named as a launch names that user (grader/lti/identity.py: the issuer's hash and the LTI user
id, which is the `sub` of that user's launches), so a launch and a `grader submit` with the
imported token are one student. Each page's `next` link must be a URL of the registration's
hosts (grader/lti/endpoints.py), or the import stops: the bearer token goes to that URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import BadInput
from grader.lti import claims as c
from grader.lti import endpoints, identity
from grader.lti.access import AccessTokens, TokenRefused
from grader.service import tokens
from grader.service.db import LtiRegistration, Token, now

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
#: The most pages read: a platform whose `next` never ends cannot keep the import running.
MAX_PAGES = 1000


@dataclass
class Members:
    """The active members, by role, and how many pages they took."""

    students: list[str] = field(default_factory=list)
    instructors: list[str] = field(default_factory=list)
    pages: int = 0


def fetch(sessions: sessionmaker[Session], registration_id: int, url: str) -> Members:
    """Every active member at the memberships `url`, named by `identity.student_id`; `BadInput`
    naming the page that failed or the URL refused."""
    with sessions() as session:
        registration = session.get(LtiRegistration, registration_id)
        if registration is None:
            raise BadInput(f"roster: no LTI registration {registration_id}")
        session.expunge(registration)
    members = Members()
    with httpx.Client(timeout=30.0, trust_env=False, follow_redirects=False) as client:
        access = AccessTokens(sessions, client)
        try:
            token = access.token(registration_id, [c.SCOPE_NRPS])
        except TokenRefused as exc:
            raise BadInput(f"roster: no access token ({exc})") from exc
        next_url: str | None = url
        while next_url is not None and members.pages < MAX_PAGES:
            refused = endpoints.refusal(registration, next_url)
            if refused is not None:
                raise BadInput(f"roster: page URL refused: {refused}")
            headers = {"authorization": f"Bearer {token}", "accept": MEDIA_TYPE}
            try:
                response = client.get(next_url, headers=headers)
                body = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError) as exc:
                raise BadInput(f"roster: {next_url}: {type(exc).__name__}: {exc}") from exc
            if not isinstance(body, dict):
                raise BadInput(f"roster: {next_url} answered HTTP {response.status_code}")
            _add(members, body.get("members") or [], registration.issuer)
            members.pages += 1
            next_url = response.links.get("next", {}).get("url")
    return members


def _add(members: Members, page: list[Any], issuer: str) -> None:
    for member in page:
        if not isinstance(member, dict) or member.get("status", "Active") != "Active":
            continue
        user = str(member.get("user_id") or "")
        roles = member.get("roles") or []
        if not user:
            continue
        name = identity.student_id(issuer, user)
        if any(_is_instructor(role) for role in roles):
            members.instructors.append(name)
        else:
            members.students.append(name)


def _is_instructor(role: object) -> bool:
    # NRPS may give the short form ("Instructor") as well as the full vocabulary URI.
    return isinstance(role, str) and (role in c.INSTRUCTOR_ROLES or role == "Instructor")


def import_members(session: Session, members: Members, course: str) -> dict[str, tuple[str, str]]:
    """Tokens for the members without a usable one: {name: (role, token)}. Not committed: the
    caller commits once they are written out (as `grader tokens import`)."""
    done = tokens.import_roster(session, members.students, course)
    created = {name: (tokens.STUDENT, token) for name, token in done.created.items()}
    having = {
        row.student
        for row in session.scalars(
            select(Token).where(Token.course == course, Token.role == tokens.INSTRUCTOR)
        )
        if tokens.usable(row, now())
    }
    for name in dict.fromkeys(members.instructors):
        if name not in having:
            token = tokens.add_token(session, name, course, role=tokens.INSTRUCTOR)
            created[name] = (tokens.INSTRUCTOR, token)
    return created
