"""The `grader` command: parses arguments and calls the library; no grading logic lives here.

Exit codes: 0 passed / succeeded, 1 graded and not passed, 2 bad usage or input, 3 the grader
could not grade. Expected failures print one `error: ...` line on stderr, never a traceback.

Building the parser imports no command's machinery (pydantic, the sandboxes, the service): each
handler imports what it uses, so `--help`, `list` and `show` start in a fraction of a second
(tests/grader/test_cli_startup.py holds the line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from grader.cli.authoring import add_authoring_commands
from grader.cli.bank import add_bank_export_command
from grader.cli.batch import add_batch_command
from grader.cli.course import add_course_commands
from grader.cli.daemon import add_daemon_commands
from grader.cli.lms import add_lms_commands
from grader.cli.lti import add_lti_commands
from grader.cli.ops import add_ops_commands
from grader.cli.options import (
    DIFFICULTIES,
    add_backend_option,
    add_seed_option,
    positive,
    settings_for,
)
from grader.cli.output import closed_stdout, emit
from grader.cli.render import item_doc, listing_doc
from grader.cli.service import add_service_commands
from grader.cli.views import ItemView, item_bank, report_problems, shown_item, student_bank
from grader.cli.worker import add_worker_commands
from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.models import Report

Command = Callable[[argparse.Namespace], int]
#: A command stopped by a closed stdout (128 + SIGPIPE, as a shell reports a program killed by
#: it): its work may be unfinished. `list`, `show`, `answer` and `check` exit as they would have.
PIPE_CLOSED = 141


class Parser(argparse.ArgumentParser):
    """Usage errors as one `error:` line and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def cmd_list(args: argparse.Namespace) -> int:
    views = student_bank(args.bank)
    report_problems(views.problems)
    items = sorted((i for i in views.items.values() if _matches(i, args)), key=lambda i: i.id)
    emit(json.dumps([_listed(i) for i in items], indent=2) if args.json else listing_doc(items))
    return 0


def _listed(item: ItemView) -> dict[str, object]:
    """A listing's entry, as `GET /v1/questions` lists it: the item's view, whether it varies,
    and the seed of the variant shown (0, an example; None for an item that does not vary)."""
    return item.view | {"varies": item.varies, "seed": item.view.get("seed")}


def _matches(item: ItemView, args: argparse.Namespace) -> bool:
    tagged = not args.tag or args.tag in item.view["tags"]
    return tagged and (not args.difficulty or item.view["difficulty"] == args.difficulty)


def cmd_show(args: argparse.Namespace) -> int:
    if args.server is not None or args.student or args.assignment:
        item = _server_variant(args)
    else:
        item, problems = shown_item(args.bank, args.id, args.seed)
        report_problems(problems)
    emit(json.dumps(item.view, indent=2) if args.json else item_doc(item))
    return 0


def _server_variant(args: argparse.Namespace) -> ItemView:
    """The variant the course server grades for this student (an instructor: `--student`'s),
    shown as a local item is; its answers go to the server."""
    from grader.cli.client import fetch_variant, resolve_config  # httpx: when a command runs
    from grader.errors import BadInput

    if args.seed is not None:
        raise BadInput("--seed with --server: the server says which variant is the student's")
    server, token = resolve_config(args.server or None, args.token)
    return ItemView(fetch_variant(server, token, args.id, args.student, args.assignment), True)


def cmd_answer(args: argparse.Namespace) -> int:
    from grader.cli.grading import grade_one

    bank, problems = item_bank(args.bank, args.id)
    report_problems(problems)
    return _emit(grade_one(args, bank, args.choice), args.json)


def cmd_check(args: argparse.Namespace) -> int:
    from grader.cli.daemon import checked_by_daemon

    checked = checked_by_daemon(args)  # by the user's warm daemon, else None: one-shot
    if checked is not None and args.format == "text":
        return checked.emit(args.json)
    if checked is not None:
        report = checked.report()
    else:
        from grader.cli.grading import check_file

        report = check_file(args)
    if args.format == "gradescope":
        from grader.gradescope.results import write_results

        write_results(report, args.output)
    return _emit(report, args.json)


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.bank import load_bank
    from grader.courses.catalog import Catalog, load_catalog

    settings = settings_for(args)
    bank = load_bank([Path(p) for p in args.paths] or [settings.bank])  # no cache: parse it all
    # Named files, folders or another --bank are validated alone: the course's assignments are
    # checked with the course's own bank only.
    alone = bool(args.paths or args.bank)
    catalog = Catalog() if alone else load_catalog(settings.assignments, bank)
    issues = bank.issues + catalog.issues
    if not alone:  # the course's solutions/ against its bank, as `grader selftest` will read it
        from grader.bank.solutions import solution_issues

        issues += solution_issues(bank, settings.solutions)
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
    from grader.models import item_json_schema
    from grader.models.assignment import assignment_json_schema
    from grader.models.expect import expect_json_schema

    if args.expect:
        schema = expect_json_schema()
    else:
        schema = assignment_json_schema() if args.assignment else item_json_schema()
    print(json.dumps(schema, indent=2))
    return 0


def _emit(report: Report, as_json: bool) -> int:
    from grader.cli.columns import exit_code
    from grader.cli.render import report_doc

    emit(report.model_dump_json(indent=2) if as_json else report_doc(report))
    return exit_code(report)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="grader", description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, help="question folder (default: ./questions)")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    _add_bank_commands(sub)
    add_authoring_commands(sub)
    add_batch_command(sub)
    add_bank_export_command(sub)
    add_ops_commands(sub)
    add_service_commands(sub)
    add_lms_commands(sub)
    add_lti_commands(sub)
    add_course_commands(sub)
    add_worker_commands(sub)
    add_daemon_commands(sub)
    return parser


def _add_bank_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("list", help="the bank's items")
    p.add_argument("--tag")
    p.add_argument("--difficulty", choices=DIFFICULTIES)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="an item as a student sees it")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    add_seed_option(p)
    _add_variant_server_options(p)
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("answer", help="grade a multiple-choice letter or a number")
    p.add_argument("id")
    p.add_argument("choice", help="a letter as shown (A-D), a number, or a predicted output")
    p.add_argument("--json", action="store_true")
    add_seed_option(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_answer)
    p = sub.add_parser("check", help="grade a .py or .ipynb file for a code item")
    p.add_argument("id")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--format", choices=["text", "gradescope"], default="text")
    p.add_argument("--output", type=Path, default=Path("results.json"))
    p.add_argument("--no-daemon", action="store_true", help="grade here, without the daemon")
    add_seed_option(p)
    add_backend_option(p)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("selftest", help="the bank's self-test")
    p.add_argument("ids", nargs="*")
    p.add_argument(
        "--variants",
        type=positive,
        metavar="N",
        help="seeds 0..N-1 proven per varying item (default: $GRADER_SELFTEST_VARIANTS or 20)",
    )
    p.add_argument(
        "--jobs",
        type=positive,
        metavar="N",
        help="items (or variants) proven at once (default: GRADER_POOL_SIZE, else the cores)",
    )
    p.add_argument(
        "--every-draw",
        action="store_true",
        help="grade code items whose inputs are drawn per run on every seed of their pool "
        "(8), not one at random: finds the checks a wrong solution fails on some draws only",
    )
    add_backend_option(p)
    p.set_defaults(func=_selftest)
    p = sub.add_parser("validate", help="schema and lint of the bank")
    p.add_argument("paths", nargs="*", help="files or folders (default: the bank)")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the JSON Schema of item (or assignment) files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--assignment", action="store_true", help="the assignment files' schema")
    which.add_argument("--expect", action="store_true", help="solutions/<id>/expect.yaml's schema")
    p.set_defaults(func=cmd_schema)


def _add_variant_server_options(p: argparse.ArgumentParser) -> None:
    """`show --server`: the variant the course server grades, not this machine's."""
    p.add_argument(
        "--server",
        nargs="?",
        const="",
        metavar="URL",
        help="show the variant the course server grades (URL default: $GRADER_SERVER or the "
        "config file)",
    )
    p.add_argument("--token", help="default: $GRADER_TOKEN or `token` in the config file")
    p.add_argument("--student", help="with an instructor's token: that student's variant")
    p.add_argument("--assignment", help="the variant of the next attempt in this assignment")


def _selftest(args: argparse.Namespace) -> int:
    from grader.cli.grading import cmd_selftest

    return cmd_selftest(args)


def main(argv: Sequence[str] | None = None) -> int:
    return _flushed(_run(argv))


def _flushed(code: int) -> int:
    """Flush stdout here, not at exit, where a closed pipe would print a traceback; output that
    cannot be written (a full disk) fails a command that had succeeded."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        closed_stdout(sys.stdout)
    except OSError as exc:
        if code == 0:
            print(f"error: cannot write the output ({exc.strerror or exc})", file=sys.stderr)
            return 3
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return int(exc.code or 0)
    except BrokenPipeError:  # `grader --help | head -1`: the help was all it had to do
        closed_stdout(sys.stdout)
        return 0
    func: Command = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 3
    except BrokenPipeError:
        closed_stdout(sys.stdout)
        return PIPE_CLOSED
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into an exit code
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """One `error:` line for an exception, and its exit code (3 for a crash of the grader)."""
    from pydantic import ValidationError

    from sandbox.errors import SandboxError

    if isinstance(exc, GraderError | SandboxError):
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    if isinstance(exc, ValidationError):  # a GRADER_* variable that does not parse
        from grader.settings import settings_error

        print(f"error: {settings_error(exc)}", file=sys.stderr)
        return 2
    if os.environ.get("GRADER_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    print(
        f"error: internal error ({type(exc).__name__}: {exc}); set GRADER_DEBUG=1 for details",
        file=sys.stderr,
    )
    return 3


if __name__ == "__main__":
    sys.exit(main())
