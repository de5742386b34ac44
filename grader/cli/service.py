"""Course-server commands: `serve`, `tokens create|import|list|revoke`, and the students'
`submit`, `result`, `history` and `assignments`.

`tokens` works on the store (`--db`), as an operator does: a token is printed once, when it is
made, and never again (only its hash is kept); `tokens list` shows everything else about them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from grader.cli.options import add_backend_option, add_log_options
from grader.errors import BadInput

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from datetime import datetime

    from sqlalchemy.orm import Session

    from grader.service.db import Token

DB_HELP = "SQLAlchemy URL (default: $GRADER_DB_URL, `db` in the config file, <home>/grader.db)"
CREATE_HELP = "make the store if it does not exist yet (normally `grader serve` makes it)"


def cmd_serve(args: argparse.Namespace) -> int:
    from grader.bank import load_bank
    from grader.service.server import serve
    from grader.service.settings import ServiceSettings
    from grader.service.store_location import locate, say
    from grader.settings import with_flags

    store = locate(args.db)
    say(store, "new: serve creates it" if store.missing else "")
    given = {"db_url": store.url, "broker_url": args.broker, "workers": args.workers}
    given |= {"log_level": args.log_level, "log_format": args.log_format}
    changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    grader = with_flags(args.bank, args.backend)
    settings = ServiceSettings(grader=grader, **changes)
    serve(settings, args.host, args.port, bank=load_bank([grader.bank]))
    return 0


def _store(args: argparse.Namespace, create: bool | None = None) -> AbstractContextManager[Session]:
    """A session on the store at `--db` (`create`: the command's `--create`, None where it has
    none); its engine is disposed after (`operator_session`)."""
    from grader.service.store_location import operator_session

    return operator_session(args.db, create)


def expiry(text: str | None, now: datetime | None = None) -> float | None:
    """`--expires`: an ISO date (00:00 UTC that day) or datetime (UTC unless it names a zone), as
    Unix seconds; it must lie in the future."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(f"--expires {text!r}: give an ISO date or datetime (2027-06-30)") from exc
    if moment.tzinfo is None:  # a bare date is its midnight: 00:00 UTC
        moment = moment.replace(tzinfo=UTC)
    if moment <= (now or datetime.now(UTC)):
        raise BadInput(f"--expires {text!r} is in the past: the token would never work")
    return moment.timestamp()


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from grader.service import tokens

    role = tokens.STUDENT if args.student is not None else tokens.INSTRUCTOR
    name = args.student if args.student is not None else args.instructor
    if role == tokens.INSTRUCTOR and not args.course:  # checked before the store is opened
        raise BadInput("--instructor needs --course: the token reaches only that course's work")
    expires_at = expiry(args.expires)
    with _store(args, args.create) as session:
        print(tokens.create_token(session, name, args.course, role=role, expires_at=expires_at))
    return 0


def cmd_tokens_import(args: argparse.Namespace) -> int:
    from grader.service import tokens

    students = tokens.roster_students(_read_roster(args.roster))
    expires_at = expiry(args.expires)
    with _output(args.out) as out, _store(args, args.create) as session:
        done = tokens.import_roster(session, students, args.course, expires_at)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["student", "token"])
        writer.writerows(done.created.items())
        out.flush()
        if out is not sys.stdout:
            os.fsync(out.fileno())
        session.commit()  # only once they are out: a token nobody saw is never stored
    kept = len(done.kept)
    print(f"created {len(done.created)} token(s), kept {kept} existing", file=sys.stderr)
    return 0


def _read_roster(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the roster ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: the roster is not UTF-8 text; save it as CSV UTF-8") from exc
    if "\0" in text:
        raise BadInput(f"{path}: the roster holds NUL bytes; save it as CSV UTF-8")
    return text


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """Where the new tokens go: stdout, or a new file only its owner can read (an existing one is
    never overwritten: the tokens it holds are shown nowhere else)."""
    if path is None:
        yield sys.stdout
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BadInput(f"--out {path}: exists; it may hold tokens: choose a new file") from exc
    except OSError as exc:
        raise BadInput(f"--out {path}: cannot create it ({exc.strerror})") from exc
    with open(fd, "w", encoding="utf-8", newline="") as handle:
        try:
            yield handle
        except BaseException:
            path.unlink(missing_ok=True)  # its tokens were never stored: they would not work
            raise


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from grader.service import tokens

    with _store(args) as session:
        rows = [_token_row(token) for token in tokens.list_tokens(session, args.course)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from grader.cli.columns import columns_text

    header = ("id", "role", "name", "course", "created", "expires", "state")
    cells = [tuple("-" if v is None else str(v) for v in row.values()) for row in rows]
    print(columns_text(header, cells) if rows else "no tokens")
    return 0


def _token_row(token: Token) -> dict[str, Any]:
    """What `tokens list` shows of a token: never the token, never its hash."""
    from datetime import UTC, datetime

    from grader.cli.columns import iso

    state = "active"
    if token.revoked_at is not None:
        state = "revoked"
    elif token.expires_at is not None and token.expires_at <= datetime.now(UTC).timestamp():
        state = "expired"
    return {
        "id": token.id,
        "role": token.role,
        "name": token.student,
        "course": token.course,
        "created": iso(token.created_at),
        "expires": None if token.expires_at is None else iso(token.expires_at),
        "state": state,
    }


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from grader.service import tokens

    if args.ids and (args.student or args.course):
        raise BadInput("name tokens by id or by --student [--course], not both")
    if args.course and not args.student:
        raise BadInput("--course narrows --student; to revoke one token give its id")
    if not args.ids and not args.student:  # as tokens.revoke says, before the store is opened
        raise BadInput("name the tokens to revoke: their ids, or --student")
    with _store(args) as session:
        count = tokens.revoke(session, args.ids, args.student, args.course)
    print(f"revoked {count} token(s)")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from grader.cli.client import Upload, resolve_config, submit

    server, token = resolve_config(args.server, args.token)
    work = Upload(question=args.id, file=args.file, choice=args.choice, assignment=args.assignment)
    return submit(server, token, work, as_json=args.json)


def cmd_result(args: argparse.Namespace) -> int:
    from grader.cli.client import resolve_config, result

    server, token = resolve_config(args.server, args.token)
    return result(server, token, args.id, as_json=args.json)


def cmd_history(args: argparse.Namespace) -> int:
    from grader.cli.client import history, resolve_config

    server, token = resolve_config(args.server, args.token)
    query = {"question": args.item, "assignment": args.assignment, "limit": args.limit}
    return history(server, token, query, as_json=args.json)


def cmd_assignments(args: argparse.Namespace) -> int:
    from grader.cli.assignments import show
    from grader.cli.client import resolve_config

    server, token = resolve_config(args.server, args.token)
    return show(server, token, as_json=args.json)


def add_service_commands(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("serve", help="run the course server (API, webhooks, grading workers)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--broker", help="Celery broker URL: grade on `grader worker` hosts instead")
    p.add_argument("--workers", type=int, help="grading threads in this process (default 2)")
    add_log_options(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_serve)

    _add_tokens_commands(sub)

    p = sub.add_parser("submit", help="submit to a course server and wait for the report")
    p.add_argument("id")
    answer = p.add_mutually_exclusive_group(required=True)
    answer.add_argument("file", nargs="?", type=Path, help="a .py or .ipynb file (code items)")
    answer.add_argument("--choice", help="a letter, a number or a prediction (other items)")
    p.add_argument("--assignment", help="the assignment it counts for (default: practice)")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the submission and report as JSON")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("result", help="one of your submissions and its report")
    p.add_argument("id", help="the submission's id, `sub_...`")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the server's JSON body")
    p.set_defaults(func=cmd_result)

    p = sub.add_parser("history", help="your submissions, newest first")
    p.add_argument("item", nargs="?", help="only this question's")
    p.add_argument("--assignment", help="only this assignment's")
    p.add_argument("--limit", type=int, help="how many (default 50, at most 500)")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the server's JSON body")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("assignments", help="your course's open and upcoming assignments")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the server's JSON body")
    p.set_defaults(func=cmd_assignments)


def _add_tokens_commands(sub: argparse._SubParsersAction[Any]) -> None:
    tokens = sub.add_parser("tokens", help="bearer tokens of students and instructors")
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("create", help="print a new token (stored hashed)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--student", help="a student's id")
    who.add_argument("--instructor", metavar="NAME", help="an instructor of --course")
    p.add_argument("--course", help="the course (required with --instructor)")
    p.add_argument("--expires", metavar="DATE", help="ISO date (00:00 UTC) or datetime")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--create", action="store_true", help=CREATE_HELP)
    p.set_defaults(func=cmd_tokens_create)

    p = actions.add_parser("import", help="tokens for a roster's students who have none")
    p.add_argument("roster", type=Path, help="a CSV file with a `student` column")
    p.add_argument("--course", required=True)
    p.add_argument("--out", type=Path, help="a new file for the `student,token` rows (mode 0600)")
    p.add_argument("--expires", metavar="DATE", help="ISO date (00:00 UTC) or datetime")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--create", action="store_true", help=CREATE_HELP)
    p.set_defaults(func=cmd_tokens_import)

    p = actions.add_parser("list", help="the tokens (never the tokens themselves)")
    p.add_argument("--course")
    p.add_argument("--json", action="store_true")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_tokens_list)

    p = actions.add_parser("revoke", help="revoke tokens by id, or a student's")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="ids from `tokens list`")
    p.add_argument("--student")
    p.add_argument("--course", help="with --student: only that course's tokens")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_tokens_revoke)


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help="default: $GRADER_SERVER or `server` in the config file")
    p.add_argument("--token", help="default: $GRADER_TOKEN or `token` in the config file")
