"""LMS clients and their signing secrets: register, rotate, retire, change hosts, delete, look up.

A client holds one or more `whsec_` secrets. Rotation adds a secret and keeps the old ones, so
requests signed with either verify until the operator retires the old one; outbound deliveries are
signed with every current secret (newest first) so the LMS can switch at its own pace.

Deleting is soft: the client's row stays (its submissions and deliveries keep their history), but
its secrets are removed, so nothing it signs verifies and nothing is signed for it; its name is
freed for a new client; its pending deliveries fail. Nothing here finds a deleted client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from grader.errors import BadInput
from grader.service.db import Delivery, LmsClient, LmsSecret, now
from grader.service.webhooks import new_secret

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_PORT = r"(:[0-9]{1,5})?"
_HOST = re.compile(rf"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?{_PORT}$|^\[[0-9a-f:.]+\]{_PORT}$")
#: A deleted client's `last_error` on the deliveries it still owed.
DELETED = "LMS client deleted"


@dataclass(frozen=True)
class ClientInfo:
    """What `grader lms list` shows: never the secrets themselves."""

    name: str
    callback_hosts: list[str]
    secret_ids: list[int]
    created_at: float


def _check_hosts(hosts: list[str]) -> list[str]:
    if not hosts:
        raise BadInput("an LMS client needs at least one --callback-host (e.g. lms.example.edu)")
    clean = [host.strip().lower() for host in hosts]
    for host in clean:
        if not _HOST.match(host):
            raise BadInput(
                f"--callback-host {host!r} is not a host name: give `name` or `name:port`, "
                "without scheme or path"
            )
    return sorted(set(clean))


def _live() -> Select[LmsClient]:
    """The clients not deleted."""
    return select(LmsClient).where(LmsClient.deleted_at.is_(None))


def add_client(session: Session, name: str, hosts: list[str]) -> str:
    """Register a client; returns its first secret (shown once, stored for signing)."""
    if not _NAME.match(name):
        raise BadInput(f"client name {name!r}: use letters, digits, '.', '_' or '-'")
    callback_hosts = _check_hosts(hosts)
    if session.scalar(select(LmsClient.id).where(LmsClient.name == name)) is not None:
        raise BadInput(f"an LMS client named {name!r} exists; `grader lms rotate {name}` renews it")
    client = LmsClient(name=name, callback_hosts=callback_hosts)
    session.add(client)
    session.flush()
    secret = new_secret()
    session.add(LmsSecret(client_id=client.id, secret=secret))
    session.commit()
    return secret


def get_client(session: Session, name: str) -> LmsClient:
    client = session.scalar(_live().where(LmsClient.name == name))
    if client is None:
        raise BadInput(f"no LMS client named {name!r}; `grader lms list` shows them")
    return client


def client_secrets(session: Session, client_id: int) -> list[str]:
    """A client's current secrets, newest first."""
    rows = session.scalars(
        select(LmsSecret.secret)
        .where(LmsSecret.client_id == client_id)
        .order_by(LmsSecret.created_at.desc(), LmsSecret.id.desc())
    )
    return list(rows)


def rotate(session: Session, name: str) -> str:
    """Add a new secret to a client; the old ones keep verifying until retired."""
    client = get_client(session, name)
    secret = new_secret()
    session.add(LmsSecret(client_id=client.id, secret=secret))
    session.commit()
    return secret


def retire_old_secrets(session: Session, name: str) -> int:
    """Remove every secret of a client but the newest; returns how many were removed."""
    client = get_client(session, name)
    newest = session.scalar(
        select(LmsSecret.id)
        .where(LmsSecret.client_id == client.id)
        .order_by(LmsSecret.created_at.desc(), LmsSecret.id.desc())
        .limit(1)
    )
    result = session.execute(
        delete(LmsSecret).where(LmsSecret.client_id == client.id, LmsSecret.id != newest)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_hosts(session: Session, name: str, hosts: list[str]) -> list[str]:
    """Replace a client's callback hosts (checked as `add_client` checks them); the new list."""
    client = get_client(session, name)
    client.callback_hosts = _check_hosts(hosts)
    session.commit()
    return list(client.callback_hosts)


def delete_client(session: Session, name: str) -> int:
    """Delete a client (see the module's docstring); how many pending deliveries it failed."""
    client = get_client(session, name)
    client.deleted_at = now()
    # `~` is never in a live name, and the id is unique: no collision, and the name is free
    client.name = f"{name[:180]}~deleted~{client.id}"
    session.execute(delete(LmsSecret).where(LmsSecret.client_id == client.id))
    failed = session.execute(
        update(Delivery)
        .where(Delivery.client_id == client.id, Delivery.state == "pending")
        .values(state="failed", last_error=DELETED)
    )
    session.commit()
    return int(failed.rowcount)  # type: ignore[attr-defined]


def list_clients(session: Session) -> list[ClientInfo]:
    clients = session.scalars(_live().order_by(LmsClient.name))
    return [
        ClientInfo(
            name=client.name,
            callback_hosts=list(client.callback_hosts),
            secret_ids=list(
                session.scalars(select(LmsSecret.id).where(LmsSecret.client_id == client.id))
            ),
            created_at=client.created_at,
        )
        for client in clients
    ]


def all_clients_with_secrets(session: Session) -> list[tuple[LmsClient, list[str]]]:
    """Every client and its secrets, for a request that does not name its client."""
    clients = list(session.scalars(_live().order_by(LmsClient.id)))
    return [(client, client_secrets(session, client.id)) for client in clients]
