"""Access tokens for LTI services (AGS, NRPS): the OAuth2 client-credentials grant with a signed
JWT as the client's proof (RFC 7523; 1EdTech Security Framework §4.1), cached until shortly before
it expires, one per registration and set of scopes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence

import httpx
import jwt
from sqlalchemy.orm import Session, sessionmaker

from grader.lti import keys
from grader.service.db import LtiRegistration

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Seconds before its expiry a cached token is no longer used (a request takes time to land).
MARGIN_S = 30.0


class TokenRefused(Exception):
    """Raised when the platform's token endpoint does not give a token; the message says why."""


def client_assertion(session: Session, registration: LtiRegistration, now: float) -> str:
    """A short-lived JWT, signed with our current key, that proves we are the registration's
    client to its token endpoint."""
    kid, private = keys.signing_key(session)
    body = {
        "iss": registration.client_id,
        "sub": registration.client_id,
        "aud": registration.auth_token_url,
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(body, private, algorithm=keys.ALGORITHM, headers={"kid": kid})


class AccessTokens:
    """The tokens of every registration, shared by the threads that call services."""

    def __init__(self, sessions: sessionmaker[Session], client: httpx.Client) -> None:
        self.sessions = sessions
        self.client = client
        self._cache: dict[tuple[int, tuple[str, ...]], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, registration_id: int, scopes: Sequence[str]) -> str:
        """A bearer token for `scopes`; `TokenRefused` with the reason when none is given."""
        key = (registration_id, tuple(sorted(scopes)))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        token, lifetime = self._fetch(registration_id, key[1])
        with self._lock:
            self._cache[key] = (token, time.time() + lifetime - MARGIN_S)
        return token

    def forget(self, registration_id: int) -> None:
        """Drop a registration's tokens (one was refused: a new one is asked for next time)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == registration_id]:
                del self._cache[key]

    def _fetch(self, registration_id: int, scopes: tuple[str, ...]) -> tuple[str, float]:
        with self.sessions() as session:
            registration = session.get(LtiRegistration, registration_id)
            if registration is None:
                raise TokenRefused(f"LTI registration {registration_id} was removed")
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(session, registration, time.time()),
                "scope": " ".join(scopes),
            }
            url = registration.auth_token_url
        try:
            response = self.client.post(url, data=form)
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenRefused(f"token endpoint {url}: {type(exc).__name__}: {exc}") from exc
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not isinstance(lifetime, int | float):
            raise TokenRefused(f"token endpoint {url} answered HTTP {response.status_code}")
        return token, float(lifetime)
