"""Our RSA signing keys: the newest signs (client assertions, deep-linking responses); the JWKS
at `/lti/jwks` lists it and the one before, so a platform that cached our keys before a rotation
still verifies what was signed just before it.

The first key is made on first use and kept in the store, so every server process sharing the
store signs with the same key and a restart changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.db import LtiKey

#: Keys listed in the JWKS: the current one and the one it replaced.
PUBLISHED = 2
ALGORITHM = "RS256"


def _new_key() -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return LtiKey(kid=secrets.token_urlsafe(12), private_pem=pem)


def _newest(session: Session, count: int) -> list[LtiKey]:
    query = select(LtiKey).order_by(LtiKey.created_at.desc(), LtiKey.kid).limit(count)
    return list(session.scalars(query))


def signing_key(session: Session) -> tuple[str, rsa.RSAPrivateKey]:
    """The current key's id and private key; the first is made (and committed) on first use."""
    keys = _newest(session, 1)
    if not keys:
        keys = [_new_key()]
        session.add(keys[0])
        session.commit()
    private = serialization.load_pem_private_key(keys[0].private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return keys[0].kid, private


def rotate(session: Session) -> str:
    """Make a new current key; the one it replaces stays published, older ones are dropped."""
    signing_key(session)  # a store with no key yet gets a previous one to publish too
    fresh = _new_key()
    session.add(fresh)
    session.commit()
    kept = {key.kid for key in _newest(session, PUBLISHED)}
    for key in session.scalars(select(LtiKey).where(LtiKey.kid.not_in(kept))):
        session.delete(key)
    session.commit()
    return fresh.kid


def jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The public halves of the published keys, newest first, as a JWK Set."""
    signing_key(session)
    return {"keys": [public_jwk(key) for key in _newest(session, PUBLISHED)]}


def public_jwk(key: LtiKey) -> dict[str, Any]:
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": key.kid, "alg": ALGORITHM, "use": "sig"}


def sign(session: Session, body: dict[str, Any]) -> str:
    """`body` as a JWT signed with our current key (its `kid` in the header)."""
    kid, private = signing_key(session)
    return jwt.encode(body, private, algorithm=ALGORITHM, headers={"kid": kid})


def verify_own(session: Session, token: str, audience: str) -> dict[str, Any] | None:
    """The claims of a JWT we signed ourselves for `audience` with a published key, not expired;
    None for anything else."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = session.get(LtiKey, kid) if isinstance(kid, str) else None
        if key is None:
            return None
        private = serialization.load_pem_private_key(key.private_pem, password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        found: dict[str, Any] = jwt.decode(
            token, private.public_key(), algorithms=[ALGORITHM], audience=audience
        )
    except jwt.PyJWTError:
        return None
    return found
