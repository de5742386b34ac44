"""`grader lms ...`: register LMS clients, rotate their webhook secrets, change where their
reports may go, delete them.

A secret is printed exactly once, when it is made; the operator hands it to the LMS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from grader.service import lms_clients
from grader.service.db import open_store
from grader.service.settings import db_url


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[Session]:
    """A session on the store; its engine is disposed after, so no connection outlives it."""
    sessions = open_store(db_url(args.db))
    try:
        with sessions() as session:
            yield session
    finally:
        sessions.kw["bind"].dispose()


def cmd_lms_add(args: argparse.Namespace) -> int:
    with _session(args) as session:
        secret = lms_clients.add_client(session, args.name, args.callback_host)
    print(secret)
    return 0


def cmd_lms_rotate(args: argparse.Namespace) -> int:
    with _session(args) as session:
        secret = lms_clients.rotate(session, args.name)
    print(secret)
    return 0


def cmd_lms_retire(args: argparse.Namespace) -> int:
    with _session(args) as session:
        removed = lms_clients.retire_old_secrets(session, args.name)
    print(f"removed {removed} old secret(s) of {args.name!r}; the newest still verifies")
    return 0


def cmd_lms_hosts(args: argparse.Namespace) -> int:
    with _session(args) as session:
        hosts = lms_clients.set_hosts(session, args.name, args.callback_host)
    print(f"{args.name}: callbacks to: {', '.join(hosts)}")
    return 0


def cmd_lms_delete(args: argparse.Namespace) -> int:
    with _session(args) as session:
        failed = lms_clients.delete_client(session, args.name)
    print(
        f"deleted {args.name!r}: its secrets are gone, its name is free; "
        f"{failed} pending delivery(ies) marked failed"
    )
    return 0


def cmd_lms_list(args: argparse.Namespace) -> int:
    with _session(args) as session:
        clients = lms_clients.list_clients(session)
    if args.json:
        print(json.dumps([client.__dict__ for client in clients], indent=2))
        return 0
    for client in clients:
        hosts = ", ".join(client.callback_hosts)
        print(f"{client.name}\t{len(client.secret_ids)} secret(s)\tcallbacks to: {hosts}")
    return 0


def add_lms_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader lms add|rotate|retire|hosts|delete|list`, each with `--db URL` (default
    $GRADER_DB_URL)."""
    lms = sub.add_parser("lms", help="LMS clients that post signed webhooks")
    actions = lms.add_subparsers(dest="lms_command", required=True, metavar="ACTION")
    p = _action(actions, "add", "register a client and print its whsec_ secret", cmd_lms_add)
    _add_hosts_option(p)
    _action(
        actions, "rotate", "add a new secret; the old ones verify until retired", cmd_lms_rotate
    )
    _action(actions, "retire", "remove every secret but the newest", cmd_lms_retire)
    p = _action(actions, "hosts", "replace the hosts reports may be sent to", cmd_lms_hosts)
    _add_hosts_option(p)
    _action(actions, "delete", "remove a client: secrets, name, pending deliveries", cmd_lms_delete)
    p = _action(actions, "list", "the registered clients (never their secrets)", cmd_lms_list)
    p.add_argument("--json", action="store_true")


def _action(
    actions: argparse._SubParsersAction[Any],
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    if name != "list":
        p.add_argument("name", help="the client's name, e.g. canvas-prod")
    p.add_argument("--db", help="store URL (default: $GRADER_DB_URL or sqlite:///grader.db)")
    p.set_defaults(func=func)
    return p


def _add_hosts_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--callback-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host (or host:port) reports may be sent to; repeat for several",
    )
