"""`grader lms ...`: register LMS clients, rotate their webhook secrets, change where their
reports may go, delete them; see the reports owed to them and send them again.

A secret is printed exactly once, when it is made; the operator hands it to the LMS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from grader.cli.columns import columns_text, iso

if TYPE_CHECKING:  # the store's modules load when an action runs, not to build the parser
    from contextlib import AbstractContextManager

    from sqlalchemy.orm import Session

    from grader.service.delivery_admin import DeliveryRow


def _session(
    args: argparse.Namespace, create: bool | None = None
) -> AbstractContextManager[Session]:
    """A session on the store at `--db` (`create`: the command's `--create`, None where it has
    none); its engine is disposed after (`operator_session`)."""
    from grader.service.store_location import operator_session

    return operator_session(args.db, create)


def cmd_lms_add(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args, args.create) as session:
        secret = lms_clients.add_client(session, args.name, args.callback_host)
    print(secret)
    return 0


def cmd_lms_rotate(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args) as session:
        secret = lms_clients.rotate(session, args.name)
    print(secret)
    return 0


def cmd_lms_retire(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args) as session:
        removed = lms_clients.retire_old_secrets(session, args.name)
    print(f"removed {removed} old secret(s) of {args.name!r}; the newest still verifies")
    return 0


def cmd_lms_hosts(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args) as session:
        hosts = lms_clients.set_hosts(session, args.name, args.callback_host)
    print(f"{args.name}: callbacks to: {', '.join(hosts)}")
    return 0


def cmd_lms_delete(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args) as session:
        failed = lms_clients.delete_client(session, args.name)
    print(
        f"deleted {args.name!r}: its secrets are gone, its name is free; "
        f"{failed} pending delivery(ies) marked failed"
    )
    return 0


def cmd_lms_list(args: argparse.Namespace) -> int:
    from grader.service import lms_clients

    with _session(args) as session:
        clients = lms_clients.list_clients(session)
    if args.json:
        print(json.dumps([client.__dict__ for client in clients], indent=2))
        return 0
    for client in clients:
        hosts = ", ".join(client.callback_hosts)
        print(f"{client.name}\t{len(client.secret_ids)} secret(s)\tcallbacks to: {hosts}")
    return 0


def cmd_lms_deliveries(args: argparse.Namespace) -> int:
    from grader.service import delivery_admin

    with _session(args) as session:
        limit = delivery_admin.LIMIT if args.limit is None else args.limit
        rows = delivery_admin.list_deliveries(session, args.client, args.state, limit)
    if args.json:
        print(json.dumps([_delivery_json(row) for row in rows], indent=2))
        return 0
    header = ("id", "client", "submission", "version", "state", "attempts", "last", "next attempt")
    cells = [_delivery_cells(row) for row in rows]
    print(columns_text(header, cells) if rows else "no deliveries")
    return 0


def _delivery_json(row: DeliveryRow) -> dict[str, Any]:
    shown = asdict(row)
    for key in ("next_attempt_at", "delivered_at"):
        shown[key] = None if shown[key] is None else iso(shown[key])
    return shown


LAST_WIDTH = 60


def _delivery_cells(row: DeliveryRow) -> tuple[str, ...]:
    status = "-" if row.last_status is None else f"HTTP {row.last_status}"
    last = " ".join((row.last_error or status).split())  # the receiver's words: one line, short
    if len(last) > LAST_WIDTH:
        last = last[: LAST_WIDTH - 3] + "..."
    return (
        str(row.id),
        row.client,
        row.submission,
        str(row.version),
        row.state,
        str(row.attempts),
        last,
        iso(row.next_attempt_at),
    )


def cmd_lms_redeliver(args: argparse.Namespace) -> int:
    from grader.service import delivery_admin

    delivery_admin.check_selection(args.ids, args.states, args.client, force=args.force)
    with _session(args) as session:
        count = delivery_admin.redeliver(
            session, args.ids, args.states, args.client, force=args.force
        )
    print(f"re-armed {count} delivery(ies): the running server sends them at its next pass")
    return 0


DB_HELP = "store URL (default: $GRADER_DB_URL, `db` in the config file, <home>/grader.db)"


def add_lms_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader lms add|rotate|retire|hosts|delete|list|deliveries|redeliver`, each with `--db URL`
    (found as `settings.db_source` says)."""
    lms = sub.add_parser("lms", help="LMS clients that post signed webhooks")
    actions = lms.add_subparsers(dest="lms_command", required=True, metavar="ACTION")
    p = _action(actions, "add", "register a client and print its whsec_ secret", cmd_lms_add)
    _add_hosts_option(p)
    p.add_argument("--create", action="store_true", help="make the store if it does not exist yet")
    _action(
        actions, "rotate", "add a new secret; the old ones verify until retired", cmd_lms_rotate
    )
    _action(actions, "retire", "remove every secret but the newest", cmd_lms_retire)
    p = _action(actions, "hosts", "replace the hosts reports may be sent to", cmd_lms_hosts)
    _add_hosts_option(p)
    _action(actions, "delete", "remove a client: secrets, name, pending deliveries", cmd_lms_delete)
    about = "the registered clients (never their secrets)"
    p = _action(actions, "list", about, cmd_lms_list, named=False)
    p.add_argument("--json", action="store_true")
    _add_delivery_commands(actions)


def _add_delivery_commands(actions: argparse._SubParsersAction[Any]) -> None:
    about = "the reports owed to LMS callbacks, newest first"
    p = _action(actions, "deliveries", about, cmd_lms_deliveries, named=False)
    p.set_defaults(state=None)
    p.add_argument("--client", metavar="NAME", help="only this client's")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--failed", dest="state", action="store_const", const="failed")
    state.add_argument("--pending", dest="state", action="store_const", const="pending")
    p.add_argument("--limit", type=int, help="how many (default 50)")
    p.add_argument("--json", action="store_true")

    about = "send deliveries now, with the same webhook-id"
    p = _action(actions, "redeliver", about, cmd_lms_redeliver, named=False)
    p.set_defaults(states=[])
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="ids from `lms deliveries`")
    p.add_argument("--failed", dest="states", action="append_const", const="failed")
    p.add_argument("--pending", dest="states", action="append_const", const="pending")
    p.add_argument("--client", metavar="NAME", help="with --failed/--pending: only this client's")
    p.add_argument("--force", action="store_true", help="send a delivered one (by id) again")


def _action(
    actions: argparse._SubParsersAction[Any],
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], int],
    named: bool = True,
) -> argparse.ArgumentParser:
    """An action on the store; `named`: it takes the client's name."""
    p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    if named:
        p.add_argument("name", help="the client's name, e.g. canvas-prod")
    p.add_argument("--db", help=DB_HELP)
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
