"""The `grader` command: parses arguments and calls the library; no grading logic lives here.

Exit codes: 0 passed / succeeded, 1 graded and not passed, 2 bad usage or input, 3 the grader
could not grade. Expected failures print one `error: ...` line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from grader.bank import Bank, load_bank
from grader.cli.bank import add_bank_export_command
from grader.cli.course import add_course_commands
from grader.cli.grading import (
    add_backend_option,
    check_file,
    cmd_selftest,
    grade_one,
    settings_for,
)
from grader.cli.lms import add_lms_commands
from grader.cli.ops import add_ops_commands
from grader.cli.render import item_text, listing_text, report_text
from grader.cli.service import add_service_commands
from grader.cli.worker import add_worker_commands
from grader.courses.catalog import Catalog, load_catalog
from grader.errors import GraderError
from grader.models import Difficulty, Report, item_json_schema
from grader.models.assignment import assignment_json_schema
from grader.settings import settings_error
from sandbox.errors import SandboxError

Command = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """Usage errors as one `error:` line and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _bank(args: argparse.Namespace) -> Bank:
    bank = load_bank([settings_for(args).bank])
    if bank.issues and args.command != "validate":
        count = len(bank.issues)
        print(f"warning: {count} problem(s) in the bank; run `grader validate`", file=sys.stderr)
    return bank


def cmd_list(args: argparse.Namespace) -> int:
    items = [
        item
        for item in _bank(args).items.values()
        if (not args.tag or args.tag in item.tags)
        and (not args.difficulty or item.difficulty == args.difficulty)
    ]
    items.sort(key=lambda i: i.id)
    if args.json:
        print(json.dumps([item.public() for item in items], indent=2))
    else:
        print(listing_text(items))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    item = _bank(args).get(args.id)
    print(json.dumps(item.public(), indent=2) if args.json else item_text(item))
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    return _emit(grade_one(settings_for(args), _bank(args), args.id, args.choice), args.json)


def cmd_check(args: argparse.Namespace) -> int:
    report = check_file(args)
    if args.format == "gradescope":
        from grader.gradescope.results import write_results

        write_results(report, args.output)
    return _emit(report, args.json)


def cmd_validate(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    bank = load_bank([Path(p) for p in args.paths] or [settings.bank])
    # Named files, folders or another --bank are validated alone: the course's assignments are
    # checked with the course's own bank only.
    alone = bool(args.paths or args.bank)
    catalog = Catalog() if alone else load_catalog(settings.assignments, bank)
    issues = bank.issues + catalog.issues
    for issue in issues:
        print(f"error: {issue}", file=sys.stderr)
    files = len(bank.items) + len(bank.broken)
    assignments = len(catalog.assignments) + len(catalog.broken)
    print(
        f"{files} file(s), {len(bank.items)} valid item(s), {assignments} assignment(s), "
        f"{len(issues)} problem(s)"
    )
    return 2 if issues else 0


def cmd_schema(args: argparse.Namespace) -> int:
    schema = assignment_json_schema() if args.assignment else item_json_schema()
    print(json.dumps(schema, indent=2))
    return 0


def _emit(report: Report, as_json: bool) -> int:
    print(report.model_dump_json(indent=2) if as_json else report_text(report))
    if report.status.value == "error":
        return 3
    return 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="grader", description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, help="question folder (default: ./questions)")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    _add_bank_commands(sub)
    add_bank_export_command(sub)
    add_ops_commands(sub)
    add_service_commands(sub)
    add_lms_commands(sub)
    add_course_commands(sub)
    add_worker_commands(sub)
    return parser


def _add_bank_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("list", help="the bank's items")
    p.add_argument("--tag")
    p.add_argument("--difficulty", choices=[d.value for d in Difficulty])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="an item as a student sees it")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("answer", help="grade a multiple-choice letter or a number")
    p.add_argument("id")
    p.add_argument("choice", help="a letter as shown (A-D), a number, or a predicted output")
    p.add_argument("--json", action="store_true")
    add_backend_option(p)
    p.set_defaults(func=cmd_answer)
    p = sub.add_parser("check", help="grade a .py or .ipynb file for a code item")
    p.add_argument("id")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--format", choices=["text", "gradescope"], default="text")
    p.add_argument("--output", type=Path, default=Path("results.json"))
    add_backend_option(p)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("selftest", help="the bank's self-test")
    p.add_argument("ids", nargs="*")
    add_backend_option(p)
    p.set_defaults(func=cmd_selftest)
    p = sub.add_parser("validate", help="schema and lint of the bank")
    p.add_argument("paths", nargs="*", help="files or folders (default: the bank)")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the JSON Schema of item (or assignment) files")
    p.add_argument("--assignment", action="store_true", help="the assignment files' schema")
    p.set_defaults(func=cmd_schema)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return int(exc.code or 0)
    func: Command = args.func
    try:
        return func(args)
    except (GraderError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:  # a GRADER_* variable that does not parse
        print(f"error: {settings_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into exit 3
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        print(
            f"error: internal error ({type(exc).__name__}: {exc}); set GRADER_DEBUG=1 for details",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
