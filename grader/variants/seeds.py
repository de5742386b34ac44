"""Whose variant is whose: a seed per student and item, that a student cannot choose.

The course server draws a student's seed as an HMAC of the course, the student, the item (and the
attempt, when an assignment gives a new variant per attempt) under a secret only the server holds,
so a student can neither compute another's variant nor pick one that suits them. On a student's
own machine (`grader show`, `grader answer` without `--seed`) the seed comes from a secret kept
in the grader's home, so the variant shown is the variant graded, with no flag to carry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from grader.errors import BadInput

#: Seeds are 4-byte numbers: 0 <= seed < SEED_SPACE.
SEED_SPACE = 2**32
SECRET_FILE = "variant-secret"
SECRET_BYTES = 32


def course_seed(
    secret: bytes, course: str | None, student: str, item_id: str, attempt: int | None = None
) -> int:
    """The seed of `student`'s variant of `item_id` in `course` (and `attempt`): stable for the
    same inputs, unrelated across students, items, attempts and secrets."""
    fields = ["variant", course or "", student, item_id, "" if attempt is None else str(attempt)]
    return _seed(secret, "\0".join(fields))


def local_seed(item_id: str, home: Path | None = None) -> int:
    """This machine's seed for `item_id`, from the secret in `<grader home>/variant-secret`
    (made on first use, readable by its owner only)."""
    return _seed(local_secret(home), f"local\0{item_id}")


def local_secret(home: Path | None = None) -> bytes:
    """The machine's variant secret; `BadInput` when it can be neither read nor made."""
    from sandbox.home import grader_home

    path = (home or grader_home()) / SECRET_FILE
    try:
        return _read(path) or _create(path)
    except OSError as exc:
        raise BadInput(
            f"cannot read or create the variant secret {path} ({exc.strerror or exc}); "
            "set GRADER_HOME to a folder you can write"
        ) from exc


def _read(path: Path) -> bytes | None:
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(secret) != SECRET_BYTES:
        raise OSError(f"{path} holds {len(secret)} bytes, not {SECRET_BYTES}; delete it")
    return secret


def _create(path: Path) -> bytes:
    """Write a new secret whole, then link it into place: two commands starting at once both
    end with the one secret that won, never with half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{SECRET_FILE}-{os.getpid()}-{secrets.token_hex(4)}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(secrets.token_bytes(SECRET_BYTES))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another command made it first: theirs is the secret
    finally:
        temporary.unlink(missing_ok=True)
    secret = _read(path)
    if secret is None:
        raise OSError(f"{path} vanished as it was made")
    return secret


def _seed(secret: bytes, message: str) -> int:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")
