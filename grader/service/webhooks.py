"""Standard Webhooks signing and verification (https://www.standardwebhooks.com/), and the
callback-host rule that keeps result deliveries inside what an LMS client registered.

A secret is `whsec_` + base64 of 24 random bytes. A message is signed over `{id}.{timestamp}.{body}`
with HMAC-SHA256; `webhook-signature` carries space-separated `v1,<base64>` entries, one per secret
the sender holds, so a receiver that knows any one of them verifies while secrets rotate.
Verification is constant-time and checks the timestamp in both directions, which bounds how long a
captured request can be replayed; the `webhook-id` store (see `lms`) covers the window itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from grader.service.errors import WebhookRejected

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh `whsec_` secret, in the form every Standard Webhooks library reads."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret (the prefix is optional, as in the reference code)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "==")  # like the reference library: tolerate lost padding
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret must be `whsec_` followed by base64") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """One `v1,<base64 HMAC-SHA256>` signature of `{msg_id}.{timestamp}.{body}`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secrets: str | Iterable[str], msg_id: str, body: bytes, now: float
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed with every secret given."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("signing needs at least one secret")
    timestamp = int(now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(key, msg_id, timestamp, body) for key in keys),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by name, case-insensitively (Starlette's Headers already are; dicts are not)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def message_id(headers: Mapping[str, str]) -> str:
    return _header(headers, "webhook-id")


def _check_timestamp(raw: str, now: float, tolerance: float) -> None:
    if not (raw.isascii() and raw.isdigit()):
        raise WebhookRejected("webhook-timestamp is not an integer of Unix seconds")
    timestamp = int(raw)
    if timestamp < now - tolerance:
        raise WebhookRejected(f"webhook-timestamp is more than {tolerance:g} s old")
    if timestamp > now + tolerance:
        raise WebhookRejected(f"webhook-timestamp is more than {tolerance:g} s in the future")


def _signatures(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a header; other versions are skipped, as the spec says."""
    found: list[bytes] = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(
    secrets: Iterable[str], headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> str:
    """The secret that signed a message within `tolerance` s of `now`; `WebhookRejected` if none.

    Every secret is compared against every offered signature with `hmac.compare_digest`; the
    secret returned tells a caller that tried several clients' secrets which client sent it.
    """
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signature = _header(headers, "webhook-signature")
    if not (msg_id and raw_timestamp and signature):
        raise WebhookRejected(
            "missing signature headers: send webhook-id, webhook-timestamp and webhook-signature"
        )
    _check_timestamp(raw_timestamp, now, tolerance)
    offered = _signatures(signature)
    for secret in secrets:
        # signed over the timestamp exactly as sent, as the spec's signed content says
        expected = base64.b64decode(sign(secret, msg_id, raw_timestamp, body)[3:])
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return secret
    raise WebhookRejected("no valid signature: the body or headers do not match a client secret")


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    """True if `url` is http(s) to a registered host: `name` allows any port, `name:port` one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    name = parts.hostname.lower()
    if ":" in name:  # an IPv6 literal is registered in brackets, as it is written in a URL
        name = f"[{name}]"
    allowed = {host.lower() for host in hosts}
    return name in allowed or (port is not None and f"{name}:{port}" in allowed)
