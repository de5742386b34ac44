"""Who an LTI user is on this server: `sub` is unique per issuer only (OIDC Core §2; Moodle's
are small integers), so the server's student id names the issuer too, deterministically, so a
launch and the roster import (`grader lti roster`) name the same student the same way:

    lti-<first 8 hex of SHA-256(issuer)>-<sub>

A `sub` that would make the id longer than a student id may be (200 characters) is replaced by
`h` and the first 32 hex of its own SHA-256. The issuer, not the registration, is hashed: two
registrations of one platform (two client ids) see one user, and removing and re-adding a
registration keeps every student's history.
"""

from __future__ import annotations

import hashlib

MAX_CHARS = 200


def _hex(value: str, chars: int) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:chars]


def student_id(issuer: str, sub: str) -> str:
    """The server's student id of the platform `issuer`'s user `sub`."""
    prefix = f"lti-{_hex(issuer, 8)}-"
    if len(prefix) + len(sub) > MAX_CHARS:
        return prefix + "h" + _hex(sub, 32)
    return prefix + sub
