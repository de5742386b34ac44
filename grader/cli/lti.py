"""`grader lti add|list|values|allow-context|refresh-keys|rotate-key|remove|roster`: the LMS
platforms this server accepts LTI 1.3 launches from (and from which of their courses), our
signing keys, and a course's members imported (NRPS); `add` and `values` print what the LMS
admin enters.

Each action works on the store `grader serve` uses (`--db`, as `grader lms` finds it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store's modules load when an action runs, not to build the parser
    from contextlib import AbstractContextManager

    from sqlalchemy.orm import Session

DB_HELP = "store URL (default: $GRADER_DB_URL, `db` in the config file, <home>/grader.db)"
BASE_HELP = "the server's public URL, as the LMS reaches it (default: $GRADER_LTI_PUBLIC_URL)"


def _session(
    args: argparse.Namespace, create: bool | None = None
) -> AbstractContextManager[Session]:
    """A session on the store at `--db` (`create`: the command's `--create`, None where it has
    none); its engine is disposed after (`operator_session`)."""
    from grader.service.store_location import operator_session

    return operator_session(args.db, create)


def _print_values(base_url: str | None) -> None:
    from grader.lti.admin import tool_values

    base = base_url or os.environ.get("GRADER_LTI_PUBLIC_URL")
    if not base:
        print("(give --base-url to print the values the LMS admin enters)")
        return
    print("\n".join(tool_values(base).lines()))


def cmd_lti_add(args: argparse.Namespace) -> int:
    from grader.lti import registrations

    new = registrations.NewRegistration(
        name=args.name,
        issuer=args.issuer,
        client_id=args.client_id,
        deployment_ids=args.deployment,
        auth_login_url=args.login_url,
        auth_token_url=args.token_url,
        jwks_url=args.jwks_url,
        course=args.course,
        contexts=args.context or [],
        any_context=args.any_context,
        service_hosts=args.service_host or [],
        allow_http_loopback=args.allow_http_loopback,
    )
    with _session(args, args.create) as session:
        registrations.add(session, new)
    print(f"registered {args.name!r}: launches from {args.issuer} (client id {args.client_id})")
    if not (args.context or args.any_context):
        print(
            "no --context: every launch is refused, naming its LMS context id, until "
            f"`grader lti allow-context {args.name} ID`"
        )
    _print_values(args.base_url)
    return 0


def cmd_lti_list(args: argparse.Namespace) -> int:
    from grader.lti import registrations

    with _session(args) as session:
        rows = [_shown(row) for row in registrations.listing(session)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        deployments = ", ".join(row["deployment_ids"])
        print(f"{row['name']}\t{row['issuer']}\tclient {row['client_id']}\t{deployments}")
    if not rows:
        print("no LTI registrations")
    return 0


def _shown(row: Any) -> dict[str, Any]:
    fields = ["name", "issuer", "client_id", "deployment_ids", "auth_login_url"]
    fields += ["auth_token_url", "jwks_url", "course", "contexts", "any_context"]
    fields += ["service_hosts", "allow_http_loopback"]
    return {name: getattr(row, name) for name in fields}


def cmd_lti_values(args: argparse.Namespace) -> int:
    from grader.errors import BadInput

    if not (args.base_url or os.environ.get("GRADER_LTI_PUBLIC_URL")):
        raise BadInput("--base-url: give the server's public URL (https://grader.example.edu)")
    _print_values(args.base_url)
    return 0


def cmd_lti_allow_context(args: argparse.Namespace) -> int:
    from grader.lti import registrations

    with _session(args) as session:
        added = registrations.allow_context(session, args.name, args.context)
    said = "now accepts" if added else "already accepted"
    print(f"{args.name!r} {said} launches from LMS context {args.context!r}")
    return 0


def cmd_lti_refresh_keys(args: argparse.Namespace) -> int:
    from grader.lti import registrations

    with _session(args) as session:
        count = registrations.flush_keys(session, args.issuer)
    print(f"{count} registration(s): the platform's keys are fetched again at the next launch")
    return 0


def cmd_lti_rotate(args: argparse.Namespace) -> int:
    from grader.lti import keys

    with _session(args) as session:
        kid = keys.rotate(session)
    print(f"new signing key {kid}; the previous one stays in /lti/jwks until the next rotation")
    return 0


def cmd_lti_remove(args: argparse.Namespace) -> int:
    from grader.lti import registrations

    with _session(args) as session:
        failed = registrations.remove(session, args.name)
    print(f"removed {args.name!r}; {failed} pending score(s) marked failed")
    return 0


def cmd_lti_roster(args: argparse.Namespace) -> int:
    from grader.errors import BadInput
    from grader.lti import registrations, roster
    from grader.service.store_location import operator_store

    sessions = operator_store(args.db, None)
    try:
        with sessions() as session:
            registration = registrations.named(session, args.name)
            course = args.course or registration.course
            if not course:
                raise BadInput("--course: the registration names no course; give one")
        members = roster.fetch(sessions, registration.id, args.memberships_url)
        with sessions() as session:
            created = roster.import_members(session, members, course)
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(["name", "role", "token"])
            writer.writerows((name, role, token) for name, (role, token) in created.items())
            sys.stdout.flush()
            session.commit()  # only once they are out: a token nobody saw is never stored
    finally:
        sessions.kw["bind"].dispose()
    total = len(members.students) + len(members.instructors)
    print(
        f"{total} member(s) in {members.pages} page(s); created {len(created)} token(s)",
        file=sys.stderr,
    )
    return 0


def add_lti_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader lti add|list|values|allow-context|refresh-keys|rotate-key|remove|roster`."""
    lti = sub.add_parser("lti", help="LMS platforms that launch students with LTI 1.3")
    actions = lti.add_subparsers(dest="lti_command", required=True, metavar="ACTION")
    p = _action(actions, "add", "register a platform; print the values for its admin", cmd_lti_add)
    p.add_argument("name", help="a name for the platform, e.g. canvas-prod")
    p.add_argument("--issuer", required=True, help="the platform's issuer (iss)")
    p.add_argument("--client-id", required=True, help="the client id the platform gave us")
    p.add_argument(
        "--deployment",
        action="append",
        required=True,
        metavar="ID",
        help="a deployment id; repeat for several",
    )
    p.add_argument("--login-url", required=True, help="the platform's OIDC auth endpoint")
    p.add_argument("--token-url", required=True, help="the platform's OAuth2 token endpoint")
    p.add_argument("--jwks-url", required=True, help="the platform's public keyset URL")
    p.add_argument("--course", help="the server course its launches belong to")
    p.add_argument(
        "--context",
        action="append",
        metavar="ID",
        help="an LMS context (course) id allowed to launch; repeat for several",
    )
    p.add_argument(
        "--any-context",
        action="store_true",
        help="accept launches from every context of the platform (one LMS course per server)",
    )
    p.add_argument(
        "--service-host",
        action="append",
        metavar="HOST[:PORT]",
        help="a host AGS/NRPS URLs may name besides the platform's URLs' hosts",
    )
    p.add_argument(
        "--allow-http-loopback",
        action="store_true",
        help="accept plain-http service URLs on a loopback host (a local test LMS only)",
    )
    p.add_argument("--base-url", help=BASE_HELP)
    p.add_argument("--create", action="store_true", help="make the store if it does not exist yet")
    p = _action(actions, "list", "the registered platforms", cmd_lti_list)
    p.add_argument("--json", action="store_true")
    p = _action(actions, "values", "print what an LMS admin enters", cmd_lti_values, db=False)
    p.add_argument("--base-url", help=BASE_HELP)
    about = "accept launches from one more LMS context (course) id"
    p = _action(actions, "allow-context", about, cmd_lti_allow_context)
    p.add_argument("name", help="the registration")
    p.add_argument("context", help="the context id, as the launch refusal names it")
    about = "fetch the platforms' keys again at the next launch (a key was removed)"
    p = _action(actions, "refresh-keys", about, cmd_lti_refresh_keys)
    p.add_argument("issuer", nargs="?", help="only this platform (default: every one)")
    _action(
        actions,
        "rotate-key",
        "make a new signing key (the old one stays published)",
        cmd_lti_rotate,
    )
    p = _action(actions, "remove", "delete a platform; its pending scores fail", cmd_lti_remove)
    p.add_argument("name")
    about = "import a course's members (NRPS) as student and instructor tokens, CSV on stdout"
    p = _action(actions, "roster", about, cmd_lti_roster)
    p.add_argument("name", help="the registration")
    p.add_argument("--memberships-url", required=True, help="the launch's context_memberships_url")
    p.add_argument("--course", help="the server course (default: the registration's)")


def _action(
    actions: argparse._SubParsersAction[Any],
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], int],
    db: bool = True,
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    if db:
        p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=func)
    return p
