"""The launch (LTI 1.3 Core §5.1.3, 1EdTech Security Framework §5.1.3): the id_token a platform
form-posts back after the login, checked in the spec's order, each failure one line:

1. `state` is the one this browser's cookie holds, and a login we started, not expired (401);
2. the signature, with the platform's key named by `kid` (its JWKS; refetched once when the key
   is new to us: a rotation) (401);
3. `iss` is the registration's issuer (401);
4. `aud` holds our client id, and `azp` is our client id when `aud` has several values, or when
   it is there at all (401);
5. `exp` not past and `iat` not ahead, each by at most the clock-skew allowance (401);
6. `nonce` is the one stored with that state, never used before (401: a replay);
7. the deployment id is registered (403);
8. the message type is a resource link or deep-linking request, and the version 1.3.0 (400);
9. the LMS context (course) is one the registration allows (403, naming the command that allows
   it), and the AGS line item, if any, is an https URL of the platform's hosts (400,
   grader/lti/endpoints.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt.types import Options
from sqlalchemy import update
from sqlalchemy.orm import Session

from grader.lti import claims as c
from grader.lti import endpoints, identity, registrations
from grader.lti.errors import LaunchRefused
from grader.lti.platform_keys import PlatformKeys
from grader.service.db import LtiLogin, LtiRegistration

#: The longest `sub` or context id kept (OIDC Core caps `sub` at 255 ASCII characters).
MAX_ID_CHARS = 255


@dataclass(frozen=True)
class Launch:
    """A launch that passed every check: its registration and its claims."""

    registration: LtiRegistration
    claims: dict[str, Any]
    login: LtiLogin | None = None

    @property
    def message_type(self) -> str:
        return str(self.claims[c.MESSAGE_TYPE])

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub") or "")

    @property
    def student(self) -> str:
        """The server's student id of the launch's user (grader/lti/identity.py)."""
        return identity.student_id(self.registration.issuer, self.subject)

    @property
    def context_id(self) -> str:
        return str(self.claim(c.CONTEXT).get("id") or "")

    def claim(self, name: str) -> dict[str, Any]:
        """A claim that is an object, or {} when it is missing or not one."""
        value = self.claims.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def instructor(self) -> bool:
        roles = self.claims.get(c.ROLES)
        return isinstance(roles, list) and any(role in c.INSTRUCTOR_ROLES for role in roles)


@dataclass(frozen=True)
class Posted:
    """What the launch request carried: the form's id_token and state, and the state cookie."""

    id_token: str
    state: str
    cookie_state: str | None


def validate(
    session: Session, keys: PlatformKeys, posted: Posted, now: float, skew_s: float, ttl_s: float
) -> Launch:
    """The launch, if every check passes; `LaunchRefused` naming the first that fails."""
    if not posted.id_token or not posted.state:
        raise LaunchRefused(400, "launch: the form must carry id_token and state")
    login = _login(session, posted, now, ttl_s)
    registration = session.get(LtiRegistration, login.registration_id)
    if registration is None:
        raise LaunchRefused(403, "launch: the registration of this login was removed")
    found = _verified(keys, registration, posted.id_token)
    _check_issuer_and_audience(found, registration)
    _check_times(found, now, skew_s)
    _use_nonce(session, login, found.get("nonce"), now)
    _check_message(found, registration)
    launched = Launch(registration, found, login)
    registrations.check_context(registration, launched.context_id)
    _check_lineitem(launched)
    return launched


def _login(session: Session, posted: Posted, now: float, ttl_s: float) -> LtiLogin:
    if not posted.cookie_state:
        raise LaunchRefused(
            401,
            "launch: this browser sent no state cookie for this login (third-party cookies "
            "blocked, or the login began elsewhere); open the link in a new window",
        )
    if posted.cookie_state != posted.state:
        raise LaunchRefused(401, "launch: state does not match this browser's login")
    login = session.get(LtiLogin, posted.state)
    if login is None or login.created_at < now - ttl_s:
        raise LaunchRefused(401, "launch: unknown or expired state; launch again from the LMS")
    return login


def _verified(keys: PlatformKeys, registration: LtiRegistration, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise LaunchRefused(400, f"id_token: not a JWT ({exc})") from exc
    if header.get("alg") != "RS256":
        raise LaunchRefused(401, f"id_token: alg {header.get('alg')!r}; only RS256 is accepted")
    key = keys.key(registration.jwks_url, header.get("kid"), registration.keys_flushed_at)
    # Only the signature here: the claims are checked one by one after, each with its reason.
    unchecked: Options = {"verify_aud": False, "verify_iss": False, "verify_exp": False}
    unchecked |= {"verify_iat": False, "verify_nbf": False}
    try:
        found: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], options=unchecked)
    except jwt.InvalidSignatureError as exc:
        raise LaunchRefused(401, "id_token: the signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise LaunchRefused(400, f"id_token: unreadable ({exc})") from exc
    return found


def _check_issuer_and_audience(found: dict[str, Any], registration: LtiRegistration) -> None:
    if found.get("iss") != registration.issuer:
        raise LaunchRefused(401, f"id_token: iss {found.get('iss')!r} is not the registration's")
    audience = found.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or registration.client_id not in audiences:
        raise LaunchRefused(401, f"id_token: aud does not hold our client id {audience!r}")
    azp = found.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != registration.client_id:
        raise LaunchRefused(401, f"id_token: azp {azp!r} is not our client id")


def _check_times(found: dict[str, Any], now: float, skew_s: float) -> None:
    exp, iat = found.get("exp"), found.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise LaunchRefused(401, "id_token: exp and iat must be numbers")
    if now > exp + skew_s:
        raise LaunchRefused(401, f"id_token: expired {now - exp:.0f} s ago")
    if iat > now + skew_s:
        raise LaunchRefused(401, f"id_token: issued {iat - now:.0f} s in the future")


def _use_nonce(session: Session, login: LtiLogin, nonce: object, now: float) -> None:
    """The nonce is the login's and unused; marked used in the same step (one UPDATE), so two
    posts of one id_token at once cannot both pass."""
    if not isinstance(nonce, str) or nonce != login.nonce:
        raise LaunchRefused(401, "id_token: nonce is not the one sent with this login")
    used = session.execute(
        update(LtiLogin)
        .where(LtiLogin.state == login.state, LtiLogin.used_at.is_(None))
        .values(used_at=now)
    )
    session.commit()
    if not used.rowcount:  # type: ignore[attr-defined]
        raise LaunchRefused(401, "id_token: nonce already used (a replayed launch)")


def _check_message(found: dict[str, Any], registration: LtiRegistration) -> None:
    deployment = found.get(c.DEPLOYMENT_ID)
    if deployment not in registration.deployment_ids:
        raise LaunchRefused(403, f"id_token: deployment {deployment!r} is not registered")
    if found.get(c.MESSAGE_TYPE) not in c.MESSAGE_TYPES:
        raise LaunchRefused(400, f"id_token: message type {found.get(c.MESSAGE_TYPE)!r}")
    if found.get(c.VERSION) != c.LTI_VERSION:
        raise LaunchRefused(400, f"id_token: LTI version {found.get(c.VERSION)!r}, not 1.3.0")
    if not found.get("sub"):
        raise LaunchRefused(400, "id_token: no sub (an anonymous launch cannot submit)")
    if len(str(found["sub"])) > MAX_ID_CHARS:
        raise LaunchRefused(400, f"id_token: sub longer than {MAX_ID_CHARS} characters")


def _check_lineitem(launched: Launch) -> None:
    lineitem = launched.claim(c.AGS_ENDPOINT).get("lineitem")
    if lineitem is None:
        return
    why = endpoints.refusal(launched.registration, str(lineitem))
    if why is not None:
        raise LaunchRefused(400, f"id_token: AGS line item refused: {why}")
