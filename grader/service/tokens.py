"""Bearer tokens: students' and instructors', created one by one or from a roster, listed,
revoked, and expiring.

Only a token's SHA-256 is stored, so a token is shown once, when it is made. A revoked or expired
token is refused exactly as an unknown one is asked to be replaced: with 401 and the reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.service.db import Token, now

STUDENT = "student"
INSTRUCTOR = "instructor"
#: The roster's column naming the student; any other column is ignored.
ROSTER_COLUMN = "student"
NAME_CAP = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    name: str,
    course: str | None,
    *,
    role: str = STUDENT,
    expires_at: float | None = None,
) -> str:
    """A new bearer token for a student (or, with `role=INSTRUCTOR`, a course's instructor)."""
    if role == INSTRUCTOR and not (course or "").strip():
        raise BadInput("an instructor token needs --course: it reaches only that course's work")
    token = add_token(session, name, course, role=role, expires_at=expires_at)
    session.commit()
    return token


def add_token(
    session: Session,
    name: str,
    course: str | None,
    *,
    role: str = STUDENT,
    expires_at: float | None = None,
) -> str:
    """`create_token` without the commit: the caller commits once the token is safely out."""
    _check_name(name)
    token = f"gt_{secrets.token_urlsafe(32)}"
    row = Token(
        token_hash=token_hash(token), student=name, course=course, role=role, expires_at=expires_at
    )
    session.add(row)
    return token


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > NAME_CAP or not name.isprintable():
        raise BadInput(f"{name[:40]!r}: a name must be 1-{NAME_CAP} printable characters")


def find_token(session: Session, token: str) -> Token | None:
    return session.scalar(select(Token).where(Token.token_hash == token_hash(token)))


def refusal(token: Token | None, at: float) -> str | None:
    """Why `token` cannot be used at `at`; None when it can."""
    if token is None:
        return "unknown token; ask your instructor for a new one"
    if token.revoked_at is not None:
        return "this token was revoked; ask your instructor for a new one"
    if token.expires_at is not None and token.expires_at <= at:
        return "this token has expired; ask your instructor for a new one"
    return None


def usable(token: Token, at: float) -> bool:
    return refusal(token, at) is None


@dataclass(frozen=True)
class RosterResult:
    """New tokens by student (to hand out) and the students who already had a usable one."""

    created: dict[str, str]
    kept: list[str]


def roster_students(text: str) -> list[str]:
    """The `student` column of a CSV roster, in order, without repeats or blanks."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or ROSTER_COLUMN not in reader.fieldnames:
        raise BadInput(f"the roster needs a header row with a {ROSTER_COLUMN!r} column")
    seen: dict[str, None] = {}
    for line, row in enumerate(reader, start=2):
        student = (row.get(ROSTER_COLUMN) or "").strip()
        if not student:
            continue
        try:
            _check_name(student)
        except BadInput as exc:
            raise BadInput(f"roster line {line}: {exc}") from exc
        seen.setdefault(student, None)
    return list(seen)


def import_roster(
    session: Session, students: Iterable[str], course: str, expires_at: float | None = None
) -> RosterResult:
    """A token for each student of `course` without a usable one; the rest are left as they are,
    so importing the same roster twice creates nothing the second time. Nothing is committed:
    the caller commits once the new tokens are written out, so none is stored unseen."""
    at = now()
    having = {
        token.student
        for token in session.scalars(
            select(Token).where(Token.course == course, Token.role == STUDENT)
        )
        if usable(token, at)
    }
    created: dict[str, str] = {}
    kept: list[str] = []
    for student in students:
        if student in having:
            kept.append(student)
            continue
        created[student] = add_token(session, student, course, expires_at=expires_at)
        having.add(student)
    return RosterResult(created, kept)


def list_tokens(session: Session, course: str | None = None) -> list[Token]:
    query = select(Token).order_by(Token.id)
    if course is not None:
        query = query.where(Token.course == course)
    return list(session.scalars(query))


def revoke(
    session: Session, ids: Iterable[int] = (), student: str | None = None, course: str | None = None
) -> int:
    """Revoke tokens by id, or every student token of `student` (in `course` when given); how
    many. An instructor's token of the same name is revoked by its id only."""
    query = update(Token).where(Token.revoked_at.is_(None))
    ids = list(ids)
    if ids:
        query = query.where(Token.id.in_(ids))
    elif student is not None:
        query = query.where(Token.student == student, Token.role == STUDENT)
        if course is not None:
            query = query.where(Token.course == course)
    else:
        raise BadInput("name the tokens to revoke: their ids, or --student")
    result = session.execute(query.values(revoked_at=now()))
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def roster_course_students(session: Session, course: str) -> list[str]:
    """The students of `course` that hold a student token (usable or not): the gradebook's rows."""
    rows = session.scalars(
        select(Token.student).where(Token.course == course, Token.role == STUDENT).distinct()
    )
    return sorted(rows)
