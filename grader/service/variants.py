"""Which variant of an item a student gets from the course server, and the secret behind it.

A student's seed is `course_seed(secret, course, student, item, attempt)` (grader.variants.seeds):
the same student sees the same numbers every time they look, another student other numbers, and
without the server's secret nobody can work out whose numbers are whose. Under an assignment that
says `variants: per-attempt` the attempt number enters the seed too, so each attempt is a new
variant; everywhere else (practice, `per-student`) it does not.

The seed is fixed when a submission is stored (`seeding`, called by `store.add_submission` once
the attempt number is taken) and kept on its row: grading and every regrade grade that variant.

The secret is 32 random bytes in the store (`server_secrets`, name `variant`), made by the first
server that needs it: every server process sharing the store reads the same one, and two starting
at once end with one (the primary key lets one insert win; the other reads the winner's).
"""

from __future__ import annotations

import secrets
import threading
from weakref import WeakKeyDictionary

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.courses.catalog import Catalog
from grader.service.db import ServerSecret
from grader.service.store import NewSubmission, attempts_used

#: The `server_secrets` row that seeds the variants.
SECRET_NAME = "variant"
SECRET_BYTES = 32
#: Tries at reading or making the secret: a try fails only when another server inserted it between
#: this one's read and write, and the next read finds it.
SECRET_TRIES = 3

#: Per store (its session factory: a server's, or a test's): read once, then kept.
_cached: WeakKeyDictionary[sessionmaker[Session], bytes] = WeakKeyDictionary()
_lock = threading.Lock()


def variant_secret(sessions: sessionmaker[Session]) -> bytes:
    """The store's variant secret, made on first use; read once per process and store."""
    with _lock:
        if sessions not in _cached:
            _cached[sessions] = stored_secret(sessions)
        return _cached[sessions]


def stored_secret(sessions: sessionmaker[Session]) -> bytes:
    """The secret as the store holds it, inserted first when it holds none (no cache)."""
    for _ in range(SECRET_TRIES):
        with sessions() as session:
            row = session.get(ServerSecret, SECRET_NAME)
            if row is not None:
                return bytes(row.value)
            session.add(ServerSecret(name=SECRET_NAME, value=secrets.token_bytes(SECRET_BYTES)))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another server made it meanwhile: read theirs
    raise RuntimeError(f"no variant secret in the store after {SECRET_TRIES} tries")


def varies(bank: Bank, item_id: str) -> bool:
    """Whether `item_id` names an item that varies: not a static item, not a fixed alias."""
    return bank.variant(item_id, 0).varies


def seed_for(
    sessions: sessionmaker[Session],
    bank: Bank,
    course: str | None,
    student: str,
    item_id: str,
    attempt: int | None,
) -> int | None:
    """The student's seed for `item_id` (at `attempt`, under a per-attempt assignment); None when
    the item does not vary."""
    if not varies(bank, item_id):
        return None
    return _seed(variant_secret(sessions), course, student, bank.item_of(item_id), attempt)


def _seed(
    secret: bytes, course: str | None, student: str, item_id: str, attempt: int | None
) -> int:
    from grader.variants.seeds import course_seed

    return course_seed(secret, course, student, item_id, attempt)


def per_attempt(catalog: Catalog, assignment_id: str | None) -> bool:
    """Whether each attempt under this assignment is a new variant (`variants: per-attempt`)."""
    if assignment_id is None:
        return False
    assignment = catalog.assignments.get(assignment_id)
    return assignment is not None and assignment.variants == "per-attempt"


def seeding(
    sessions: sessionmaker[Session], bank: Bank, catalog: Catalog, new: NewSubmission
) -> NewSubmission:
    """`new`, told how to seed itself once its attempt number is known (`store.add_submission`);
    as it is for an item that does not vary."""
    if not varies(bank, new.question):
        return new
    counted = per_attempt(catalog, new.assignment)
    # Read before the store's transaction begins: the seed itself is then pure arithmetic.
    secret = variant_secret(sessions)

    item = bank.item_of(new.question)

    def seed(attempt: int | None) -> int:
        return _seed(secret, new.course, new.student, item, attempt if counted else None)

    return NewSubmission(**{**new.__dict__, "seeding": seed})


def next_seed(
    session: Session,
    sessions: sessionmaker[Session],
    bank: Bank,
    catalog: Catalog,
    who: tuple[str | None, str],
    item_id: str,
    assignment_id: str | None,
) -> int | None:
    """The seed of the student's next submission of `item_id` (under `assignment_id`): what
    `GET /v1/items/{id}/variant` shows them before they answer. `who` is (course, student)."""
    course, student = who
    attempt = None
    if per_attempt(catalog, assignment_id):
        assert assignment_id is not None
        attempt = attempts_used(session, student, assignment_id, item_id) + 1
    return seed_for(sessions, bank, course, student, item_id, attempt)
