"""The store's tables (SQLAlchemy 2), the engine, and schema upgrades through Alembic.

SQLite (WAL, the embedded default) and PostgreSQL run the same code. Times are Unix seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from grader.errors import BadInput

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


def now() -> float:
    return time.time()


class Token(Base):
    """A bearer token, stored as its SHA-256.

    role `student`: it reads only that student's work (`student` is the student's id).
    role `instructor`: it reads and changes the work of its `course` (`student` holds the
    instructor's name, which the audit trail records). A revoked or expired token is refused.
    """

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    student: Mapped[str] = mapped_column(String(200), index=True)
    course: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    role: Mapped[str] = mapped_column(String(20), default="student", server_default="student")
    expires_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)


class LmsClient(Base):
    """An LMS allowed to post submissions; results go only to its registered callback hosts."""

    __tablename__ = "lms_clients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    callback_hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    # Set when deleted: its secrets are gone, its name is freed, its rows keep their history.
    deleted_at: Mapped[float | None] = mapped_column(Float)


class LmsSecret(Base):
    """A `whsec_` signing secret; a client may hold several while it rotates."""

    __tablename__ = "lms_secrets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("lms_clients.id"), index=True)
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float, default=now)


class Submission(Base):
    """One submission and, once graded, its current report.

    status: queued -> running -> done; a regrade sends it back to queued (its report stays
    readable meanwhile). Each report written is a `ReportVersion`; `report` is the newest, and
    `version` its number (0 before the first grading). `fingerprint` is the item's as graded, so
    a regrade skips what the item's fix did not change.

    Inside an assignment, `attempt` numbers a student's submissions to one item there 1, 2, ...;
    the unique constraint is what makes the count atomic (store.add_submission). Practice
    submissions leave it null, and nulls never collide.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint(
            "student", "assignment", "question", "attempt", name="uq_submissions_attempt"
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    question: Mapped[str] = mapped_column(String(200))
    student: Mapped[str] = mapped_column(String(200), index=True)
    course: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("lms_clients.id"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    callback_url: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    choice: Mapped[str | None] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(20), default="cpu")
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Grading runs that completed (winner or not); above 1 means the work was done twice.
    gradings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[str | None] = mapped_column(String(40))
    graded_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float, default=now, index=True)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    assignment: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int | None] = mapped_column(Integer)
    # The share of the score lost for lateness when it was submitted (0 on time).
    late_penalty: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Who asked for the regrade now queued (the instructor's name); cleared when it is written.
    regrade_by: Mapped[str | None] = mapped_column(String(200))
    # The variant graded (grader.service.variants): set at intake for an item that varies and
    # kept by every regrade; null for an item that does not (and for work stored before 0006).
    seed: Mapped[int | None] = mapped_column(BigInteger)


class ServerSecret(Base):
    """A secret the server makes for itself on first use and keeps (grader.service.variants):
    `variant` seeds the students' variants, so it must outlive restarts and be one for every
    server process sharing the store."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class ReportVersion(Base):
    """One report a submission has had: its grading, each regrade, each override; never changed.

    `change` is `graded`, `regrade` or `override`; `by` who caused it (`grader` for the first
    grading) and `reason` why (an override's reason). The history is the audit trail.
    """

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("submission_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class InboundWebhook(Base):
    """A `webhook-id` already accepted from a client: a replay returns the same submission."""

    __tablename__ = "inbound_webhooks"
    __table_args__ = (UniqueConstraint("client_id", "webhook_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("lms_clients.id"))
    webhook_id: Mapped[str] = mapped_column(String(200))
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"))
    received_at: Mapped[float] = mapped_column(Float, default=now)


class Delivery(Base):
    """The newest report owed to a callback URL; retried on the spec's schedule until 2xx, 410 or
    give-up.

    state: pending -> delivered | failed. A new version of the report (a regrade, an override)
    makes the row owe that version: a new `webhook-id`, attempts from 0, pending again, so an
    older version still pending is never sent after it.

    kind `webhook`: a signed callback to an LMS client's URL (`client_id` set). Kind `ags`: a
    score for an LTI launch's line item (`url` the line item's scores URL, no client; the launch
    is the submission's `LtiLink`, grader/lti/outbox.py).
    """

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("lms_clients.id"))
    kind: Mapped[str] = mapped_column(String(20), default="webhook", server_default="webhook")
    url: Mapped[str] = mapped_column(Text)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=now, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Worker(Base):
    """A `grader worker` main process and its heartbeat (`grader.service.heartbeats`).

    `name` is what its pool processes write before the `/` of `graded_by` (`host:pid`);
    `last_seen` is renewed every few seconds while it lives, by the worker's own clock.
    """

    __tablename__ = "workers"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float, default=now)
    last_seen: Mapped[float] = mapped_column(Float, default=now)


class LtiKey(Base):
    """One of our RSA signing keys for LTI (grader/lti/keys.py): the newest signs; the previous
    one stays in our JWKS so platforms holding a cached copy still verify during a rotation."""

    __tablename__ = "lti_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float, default=now, index=True)


class LtiRegistration(Base):
    """A platform (an LMS) registered for LTI 1.3: who it is, its URLs, and the server course its
    launches belong to (grader/lti/registrations.py)."""

    __tablename__ = "lti_registrations"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_login_url: Mapped[str] = mapped_column(Text)
    auth_token_url: Mapped[str] = mapped_column(Text)
    jwks_url: Mapped[str] = mapped_column(Text)
    course: Mapped[str | None] = mapped_column(String(200))
    # The LMS contexts (courses) whose launches are this course's; `any_context`: every one.
    contexts: Mapped[list[str]] = mapped_column(JSON, default=list)
    any_context: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hosts (host[:port]) besides the platform's own URLs that AGS and NRPS URLs may name.
    service_hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Plain http to a loopback host accepted for the platform's service URLs (a local test LMS).
    allow_http_loopback: Mapped[bool] = mapped_column(Boolean, default=False)
    # `grader lti refresh-keys`: a JWKS fetched before this time is fetched again.
    keys_flushed_at: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class LtiLogin(Base):
    """One OIDC login initiation: the `state` sent to the platform, the `nonce` its id_token must
    carry, and when the launch used it (single use: grader/lti/oidc.py)."""

    __tablename__ = "lti_logins"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    # What the platform's initiation said, so the "new window" link can start a login again.
    login_hint: Mapped[str | None] = mapped_column(Text)
    message_hint: Mapped[str | None] = mapped_column(Text)
    target_link_uri: Mapped[str | None] = mapped_column(Text)
    deployment_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float, default=now, index=True)
    used_at: Mapped[float | None] = mapped_column(Float)


class LtiSession(Base):
    """What a launch let its user do, found by the session cookie's SHA-256: see their item,
    submit it, read their reports (grader/lti/sessions.py)."""

    __tablename__ = "lti_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    # The server's student id (grader/lti/identity.py) and the platform's own (`sub`, for AGS).
    student: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(255))
    user_name: Mapped[str | None] = mapped_column(String(200))
    context_id: Mapped[str] = mapped_column(String(255))
    context_title: Mapped[str | None] = mapped_column(String(200))
    # The new-window link: our login initiation again, with the platform's hints.
    relaunch_url: Mapped[str | None] = mapped_column(Text)
    course: Mapped[str | None] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(String(200))
    assignment: Mapped[str | None] = mapped_column(String(200))
    lineitem: Mapped[str | None] = mapped_column(Text)
    # The origins allowed to frame the tool's pages (CSP frame-ancestors): the platform's.
    frame_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float] = mapped_column(Float)


class LtiLink(Base):
    """A submission made through an LTI launch: where its score goes (AGS), for whom, and the
    millisecond stamp of the newest score owed, strictly increasing per line item and user."""

    __tablename__ = "lti_links"
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id"))
    lineitem: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(200))
    stamp_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (Alembic `upgrade head`); a URL that
    cannot be used is `BadInput` (`check_url`)."""
    from alembic import command

    check_url(url)
    with _store_errors(url):
        command.upgrade(alembic_config(url), "head")


def alembic_config(url: str) -> Any:
    """Alembic's configuration for the store at `url`: the migrations here (`%` escaped, as
    Alembic's config file syntax needs)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def open_store(url: str) -> sessionmaker[Any]:
    """Upgrade the schema, then a session factory bound to it."""
    upgrade(url)
    with _store_errors(url):
        return sessionmaker(make_engine(url), expire_on_commit=False)


def shown_url(url: str) -> str:
    """`url` with its password masked, for messages: a URL is often pasted with one."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def check_url(url: str) -> URL:
    """Parse `url` and load its dialect and driver, connecting to nothing: a URL that does not
    parse, names no dialect SQLAlchemy has, or needs a driver not installed is `BadInput` naming
    it (masked) and the fix."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        shown = shown_url(url)
        raise BadInput(
            f"store URL {shown!r} does not parse ({str(exc).replace(url, shown)}); write it as "
            "sqlite:///PATH or dialect+driver://user:password@host:port/database"
        ) from exc
    with _store_errors(url):
        parsed.get_dialect().import_dbapi()
    return parsed


@contextmanager
def _store_errors(url: str) -> Iterator[None]:
    """The ways a store URL fails once parsed, as one `BadInput` line (exit 2) naming the URL."""
    where = f"store URL {shown_url(url)!r}"
    try:
        yield
    except NoSuchModuleError as exc:
        name = url.split(":", 1)[0]
        raise BadInput(
            f"{where}: SQLAlchemy has no dialect {name!r}; use sqlite:///PATH or "
            "postgresql+psycopg://..."
        ) from exc
    except ImportError as exc:
        fix = ' (pip install "torchgrader[postgres]")' if url.startswith("postgres") else ""
        raise BadInput(f"{where}: its driver is not installed: {exc}{fix}") from exc
    except DatabaseError as exc:  # refused, unreachable, no such file or folder, not a database
        reason = " ".join(str(exc.orig or exc).split())
        raise BadInput(f"{where}: cannot open the store ({reason})") from exc
