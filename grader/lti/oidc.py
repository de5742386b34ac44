"""Third-party login initiation (LTI 1.3 Core §5.1.1, OIDC): the platform names the user and the
link; we check both against a registration, and send the browser to the platform's authorisation
endpoint with a fresh `state` (also set as a cookie, so the launch must come back to the same
browser) and a fresh `nonce` (stored, so the id_token that carries it is accepted once).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete
from sqlalchemy.orm import Session

from grader.lti import registrations
from grader.lti.errors import LaunchRefused
from grader.service.db import LtiLogin, LtiRegistration, now

LAUNCH_PATH = "/lti/launch"


@dataclass(frozen=True)
class Login:
    """Where to send the browser, and the state its cookie must hold."""

    redirect: str
    state: str


def initiate(session: Session, params: Mapping[str, str], base_url: str, ttl_s: float) -> Login:
    """Check a login initiation's parameters and store its state and nonce; `LaunchRefused`
    (400 malformed, 403 an unknown platform, a link not ours) with the reason otherwise."""
    missing = [name for name in ("iss", "login_hint", "target_link_uri") if not params.get(name)]
    if missing:
        raise LaunchRefused(400, f"login: missing {', '.join(missing)}")
    registration = registrations.find(session, params["iss"], params.get("client_id") or None)
    if registration is None:
        who = f"{params['iss']} (client id {params.get('client_id') or 'not given'})"
        raise LaunchRefused(403, f"login: no LTI registration for {who}; see `grader lti add`")
    if not _ours(params["target_link_uri"], base_url):
        raise LaunchRefused(403, f"login: target_link_uri is not on this server ({base_url})")
    deployment = params.get("lti_deployment_id")
    if deployment and deployment not in registration.deployment_ids:
        raise LaunchRefused(403, f"login: deployment {deployment!r} is not registered")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session.execute(delete(LtiLogin).where(LtiLogin.created_at < now() - ttl_s))
    session.add(
        LtiLogin(
            state=state,
            nonce=nonce,
            registration_id=registration.id,
            login_hint=params["login_hint"],
            message_hint=params.get("lti_message_hint") or None,
            target_link_uri=params["target_link_uri"],
            deployment_id=deployment or None,
        )
    )
    session.commit()
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": base_url.rstrip("/") + LAUNCH_PATH,
        "login_hint": params["login_hint"],
        "state": state,
        "nonce": nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    joiner = "&" if urlsplit(registration.auth_login_url).query else "?"
    return Login(f"{registration.auth_login_url}{joiner}{urlencode(query)}", state)


def relaunch_url(base_url: str, registration: LtiRegistration, login: LtiLogin) -> str:
    """Our login initiation again, with what the platform's first one said: the "new window"
    link. Opened in a top-level window it starts a login of its own (its own state cookie and
    nonce), and the platform authenticates whoever is signed in to it in that browser, so a copy
    of the link sent to someone else launches them as themself, never as the launcher."""
    query = {
        "iss": registration.issuer,
        "client_id": registration.client_id,
        "login_hint": login.login_hint or "",
        "target_link_uri": login.target_link_uri or "",
    }
    if login.message_hint:
        query["lti_message_hint"] = login.message_hint
    if login.deployment_id:
        query["lti_deployment_id"] = login.deployment_id
    return f"{base_url.rstrip('/')}/lti/login?{urlencode(query)}"


def _ours(target: str, base_url: str) -> bool:
    """Whether `target` is a URL of this server (same scheme, host and port as `base_url`)."""
    mine, theirs = urlsplit(base_url), urlsplit(target)
    return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)
