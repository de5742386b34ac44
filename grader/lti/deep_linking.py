"""Deep Linking 2.0: an instructor, inside the LMS, picks an item (or an item of an assignment)
from the bank; we answer the platform with a signed `LtiDeepLinkingResponse` holding one
`ltiResourceLink` whose custom parameters name the item and the assignment. An assignment's item
carries a `lineItem` with its points, so the LMS makes the gradebook column our scores go to; a
practice item carries none (practice has unlimited tries, so a graded column would end at full
marks by guessing) and its launches post no score. Choices are limited to the registration's
course, when the picker is drawn and again when a choice comes back.

The picker keeps no server state: each choice posts back a short-lived JWT we signed ourselves
(`context`) holding what the response needs (the return URL, the platform's opaque `data`, the
registration and deployment). Only the launched page holds it, so it also stands in for a
session and an anti-forgery value.
"""

from __future__ import annotations

import secrets
import time
from html import escape
from typing import Any

from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from grader.lti import claims as c
from grader.lti import keys, page
from grader.lti.errors import LaunchRefused
from grader.lti.frames import framed, origin
from grader.lti.launch import Launch
from grader.service.db import LtiRegistration
from grader.service.state import ServiceState

CONTEXT_AUDIENCE = "torchgrader-deep-link"
RESPONSE_TYPE = "LtiDeepLinkingResponse"
CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"


def picker(state: ServiceState, found: Launch, origins: list[str], ttl_s: float) -> HTMLResponse:
    """The choice page of an instructor's deep-linking launch; 403 for anyone else."""
    if not found.instructor:
        raise LaunchRefused(403, "deep linking: only an instructor may pick what to link")
    settings = found.claim(c.DEEP_LINKING_SETTINGS)
    if not settings.get("deep_link_return_url"):
        raise LaunchRefused(400, "deep linking: the launch has no deep_link_return_url")
    context = {
        "aud": CONTEXT_AUDIENCE,
        "exp": int(time.time() + ttl_s),
        "registration": found.registration.id,
        "deployment": found.claims[c.DEPLOYMENT_ID],
        "return_url": settings["deep_link_return_url"],
        "data": settings.get("data"),
        "origins": origins,
    }
    with state.sessions() as session:
        signed = keys.sign(session, context)
    body = "<h1>Link an exercise</h1>" + "".join(
        _choice(signed, item, assignment, title, points)
        for item, assignment, title, points in choices(state, found.registration.course)
    )
    return framed(page.document("Link an exercise", body), origins)


def choices(state: ServiceState, course: str | None) -> list[tuple[str, str | None, str, float]]:
    """(item, assignment, title, points): every assignment item of the registration's course,
    then every item of the bank as practice."""
    found: list[tuple[str, str | None, str, float]] = []
    for assignment in sorted(state.catalog.assignments.values(), key=lambda a: a.id):
        if course is not None and assignment.course != course:
            continue
        for entry in assignment.items:
            title = f"{assignment.title}: {_title(state, entry.id)}"
            found.append((entry.id, assignment.id, title, entry.points))
    for item_id in sorted(state.bank.items):
        item = state.bank.items[item_id]
        found.append((item_id, None, f"Practice: {_title(state, item_id)}", item.points))
    return found


def _title(state: ServiceState, item_id: str) -> str:
    item = state.bank.items.get(state.bank.item_of(item_id))
    return str(item.title) if item is not None else item_id


def _choice(context: str, item: str, assignment: str | None, title: str, points: float) -> str:
    return (
        '<form method="post" action="/lti/deep-link">'
        f'<input type="hidden" name="context" value="{escape(context)}">'
        f'<input type="hidden" name="item" value="{escape(item)}">'
        f'<input type="hidden" name="assignment" value="{escape(assignment or "")}">'
        f'<button type="submit">{escape(title)} ({points:g} points)</button></form>'
    )


def respond(
    state: ServiceState, base_url: str, context: str, item: str, assignment: str | None
) -> HTMLResponse:
    """The signed response for the chosen link, posted back to the platform by the browser."""
    with state.sessions() as session:
        found = keys.verify_own(session, context, CONTEXT_AUDIENCE)
        if found is None:
            raise LaunchRefused(401, "deep linking: this choice expired or is not ours")
        registration = session.get(LtiRegistration, found["registration"])
        if registration is None:
            raise LaunchRefused(403, "deep linking: the registration was removed")
        link = _link(state, registration.course, base_url, item, assignment)
        token = _response_jwt(session, registration, found, link)
    nonce = secrets.token_urlsafe(12)
    return framed(
        _autopost(found["return_url"], token, nonce),
        list(found["origins"]),
        form_to=origin(found["return_url"]),
        script_nonce=nonce,
    )


def _link(
    state: ServiceState, course: str | None, base_url: str, item: str, assignment: str | None
) -> dict[str, Any]:
    """The `ltiResourceLink` content item; in an assignment, with its line item's points."""
    listed = {(i, a): (t, p) for i, a, t, p in choices(state, course)}
    if (item, assignment) not in listed:
        raise LaunchRefused(400, f"deep linking: {item!r} is not one of the choices")
    title, points = listed[(item, assignment)]
    custom = {"item": item} | ({"assignment": assignment} if assignment else {})
    link: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": title,
        "url": f"{base_url}/lti/item",
        "custom": custom,
    }
    if assignment:
        link["lineItem"] = {"scoreMaximum": points, "label": title, "resourceId": item}
    return link


def _response_jwt(
    session: Session, registration: LtiRegistration, found: dict[str, Any], link: dict[str, Any]
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": registration.client_id,
        "aud": registration.issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": secrets.token_urlsafe(16),
        c.DEPLOYMENT_ID: found["deployment"],
        c.MESSAGE_TYPE: RESPONSE_TYPE,
        c.VERSION: c.LTI_VERSION,
        CONTENT_ITEMS: [link],
    }
    if found.get("data") is not None:
        body[DATA] = found["data"]
    return keys.sign(session, body)


def _autopost(action: str, token: str, nonce: str) -> str:
    form = (
        f'<form id="back" method="post" action="{escape(action)}">'
        f'<input type="hidden" name="JWT" value="{escape(token)}">'
        '<button type="submit">Back to the LMS</button></form>'
        f"<script nonce=\"{nonce}\">document.getElementById('back').submit()</script>"
    )
    return page.document("Linking", form)
