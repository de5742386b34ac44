"""Course-server commands: `serve`, `tokens create`, `submit`, `assignments`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from grader.cli.grading import add_backend_option
from grader.settings import with_flags


def cmd_serve(args: argparse.Namespace) -> int:
    from grader.bank import load_bank
    from grader.service.server import serve
    from grader.service.settings import ServiceSettings

    given = {"db_url": args.db, "broker_url": args.broker, "workers": args.workers}
    changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    grader = with_flags(args.bank, args.backend)
    settings = ServiceSettings(grader=grader, **changes)
    serve(settings, args.host, args.port, bank=load_bank([grader.bank]))
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from grader.service import store
    from grader.service.db import open_store
    from grader.service.settings import db_url

    sessions = open_store(db_url(args.db))
    try:
        with sessions() as session:
            print(store.create_token(session, args.student, args.course))
    finally:
        sessions.kw["bind"].dispose()
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from grader.cli.client import Upload, resolve_config, submit

    server, token = resolve_config(args.server, args.token)
    work = Upload(question=args.id, file=args.file, choice=args.choice, assignment=args.assignment)
    return submit(server, token, work, as_json=args.json)


def cmd_assignments(args: argparse.Namespace) -> int:
    from grader.cli.assignments import show
    from grader.cli.client import resolve_config

    server, token = resolve_config(args.server, args.token)
    return show(server, token, as_json=args.json)


def add_service_commands(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("serve", help="run the course server (API, webhooks, grading workers)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--db", help="SQLAlchemy URL (default: $GRADER_DB_URL or sqlite:///grader.db)")
    p.add_argument("--broker", help="Celery broker URL: grade on `grader worker` hosts instead")
    p.add_argument("--workers", type=int, help="grading threads in this process (default 2)")
    add_backend_option(p)
    p.set_defaults(func=cmd_serve)

    tokens = sub.add_parser("tokens", help="students' bearer tokens")
    actions = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("create", help="print a new token for a student (stored hashed)")
    p.add_argument("--student", required=True)
    p.add_argument("--course")
    p.add_argument("--db", help="SQLAlchemy URL (default: $GRADER_DB_URL or sqlite:///grader.db)")
    p.set_defaults(func=cmd_tokens_create)

    p = sub.add_parser("submit", help="submit to a course server and wait for the report")
    p.add_argument("id")
    answer = p.add_mutually_exclusive_group(required=True)
    answer.add_argument("file", nargs="?", type=Path, help="a .py or .ipynb file (code items)")
    answer.add_argument("--choice", help="a letter, a number or a prediction (other items)")
    p.add_argument("--assignment", help="the assignment it counts for (default: practice)")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("assignments", help="your course's open and upcoming assignments")
    _add_server_options(p)
    p.add_argument("--json", action="store_true", help="print the server's JSON body")
    p.set_defaults(func=cmd_assignments)


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help="default: $GRADER_SERVER or `server` in the config file")
    p.add_argument("--token", help="default: $GRADER_TOKEN or `token` in the config file")
