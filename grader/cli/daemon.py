"""`grader daemon start|stop|status`, and `grader check`'s way through the daemon.

`checked_by_daemon` is what `grader check` tries first: the report the user's daemon graded
(grader/daemon/), or None to grade one-shot. It reads the file itself (the daemon never opens a
student's path) and falls back without a word for a file one-shot must explain (not .py/.ipynb,
unreadable, too big), so every error is said as one-shot says it. No daemon running: it starts
one in the background and this check goes one-shot. A daemon that cannot be used (cut off, too
slow, failing) costs at most one `note:` line on stderr; one made by other code or under other
settings is replaced, silently. Importing this module loads the standard library only.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.cli.options import add_backend_option
from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.daemon.paths import DaemonPaths
    from grader.models import Report

#: The largest file sent (grader.grading.submission.MAX_SUBMISSION_BYTES: a bigger one goes
#: one-shot, which says so); written out to keep `grader check` from importing the grader.
MAX_SUBMISSION_BYTES = 1024 * 1024
#: Seconds `grader daemon start` waits for the daemon to serve (its warm pool to fill).
START_WAIT_S = 240.0
STOP_WAIT_S = 60.0


class DaemonCheckError(GraderError):
    """Raised with the error a check ended in inside the daemon (bad input), and its exit code,
    exactly as the one-shot path would have raised it."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Checked:
    """A check the daemon graded: the report's JSON, and what one-shot prints of it where
    stdout is not a terminal (`text`, `json_text`) with its exit code."""

    data: dict[str, Any]
    text: str
    json_text: str
    exit_code: int

    def report(self) -> Report:
        """The `Report` itself (pydantic): for a terminal's rendering and Gradescope's file."""
        from grader.models import Report

        return Report.model_validate(self.data)

    def emit(self, as_json: bool) -> int:
        """Print it as `grader check` prints a report, and give its exit code."""
        from grader.cli.output import emit, styled

        if as_json or not styled(sys.stdout):
            emit(self.json_text if as_json else self.text)
        else:
            from grader.cli.render import report_doc

            emit(report_doc(self.report()))
        return self.exit_code


def checked_by_daemon(args: argparse.Namespace) -> Checked | None:
    """`grader check` graded by the daemon; None: grade it one-shot."""
    from grader.daemon import settings
    from grader.daemon.protocol import DaemonProblem

    if args.no_daemon or not settings.enabled():
        return None
    settings.idle_seconds()  # a bad value is said now, as a setting that does not parse
    data = _submission(args.file)
    if data is None:
        return None
    try:
        reply = _reply(args, data)
    except (DaemonProblem, OSError) as exc:
        _note(str(exc))
        return None
    return None if reply is None else _answer(reply)


def _reply(args: argparse.Namespace, data: bytes) -> dict[str, Any] | None:
    """The daemon's reply to this check; None when there is none to wait for: no daemon runs,
    or the one running was made by other code or for other settings (and is exiting). Then a
    daemon is started for the next checks, once this one (graded one-shot) is done."""
    from grader.cli.views import bank_folder
    from grader.daemon.client import NotRunning, start
    from grader.daemon.protocol import config, hello

    bank = bank_folder(args.bank)
    request = {
        "op": "check",
        "hello": hello(),
        "config": config(bank, args.backend),
        "item": args.id,
        "seed": args.seed,
        "name": args.file.name,
        "data": base64.b64encode(data).decode("ascii"),
    }
    paths = _paths()
    try:
        reply = _asked(args, paths, request)
    except NotRunning:
        start(paths, bank, args.backend, after=os.getpid())
        return None
    if "refused" in reply:
        start(paths, bank, args.backend, replacing=True, after=os.getpid())
        return None
    return reply


def _asked(args: argparse.Namespace, paths: DaemonPaths, request: dict[str, Any]) -> dict[str, Any]:
    from grader.cli.output import progress
    from grader.daemon.client import REPLY_S, ask

    with progress(f"grading {args.id} …", not args.json):
        return ask(paths, request, REPLY_S)


def _answer(reply: dict[str, Any]) -> Checked | None:
    """The check, or its error raised, from the daemon's reply; None: go one-shot."""
    try:
        if "error" in reply:
            error = DaemonCheckError(str(reply["error"]), int(reply["exit_code"]))
        elif "report" in reply:
            keys = ("report", "text", "json_text", "exit_code")
            checked = Checked(*(reply[key] for key in keys))
        else:
            _note(str(reply.get("fallback", "an answer it could not read")))
            return None
    except (KeyError, TypeError, ValueError):
        _note("an answer it could not read")
        return None
    sys.stderr.write(str(reply.get("stderr", "")))
    if "error" in reply:
        raise error
    return checked


def _submission(path: Path) -> bytes | None:
    """The file's bytes when one-shot would read them too; None leaves the reason to it."""
    if path.suffix not in (".py", ".ipynb"):
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SUBMISSION_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_SUBMISSION_BYTES else None


def _paths() -> DaemonPaths:
    from grader.daemon.paths import DaemonPaths

    return DaemonPaths.for_user().private()


def _note(reason: str) -> None:
    print(f"note: grader daemon: {reason}; checked without it", file=sys.stderr)


def cmd_daemon_start(args: argparse.Namespace) -> int:
    from grader.cli.views import bank_folder
    from grader.daemon.client import start, wait_serving

    paths = _known_paths()
    found = wait_serving(paths, 0)
    if found is None:
        paths.failed.unlink(missing_ok=True)
        start(paths, bank_folder(args.bank), args.backend)
        found = wait_serving(paths, START_WAIT_S)
    if found is None:
        raise GraderError(f"the daemon did not start: {_why_not(paths)}")
    print(f"running: pid {found['pid']}")
    return 0


def _why_not(paths: DaemonPaths) -> str:
    for source in (paths.failed, paths.log):
        try:
            lines = source.read_text(errors="replace").strip().splitlines()
        except OSError:
            continue
        if lines:
            return f"{lines[-1]} (log: {paths.log})"
    return f"see {paths.log}"


def cmd_daemon_stop(args: argparse.Namespace) -> int:
    from grader.daemon.client import stop
    from grader.daemon.protocol import DaemonProblem

    paths = _existing_paths()
    try:
        pid = None if paths is None else stop(paths, STOP_WAIT_S)
    except DaemonProblem as exc:
        raise GraderError(str(exc)) from exc
    print("not running" if pid is None else f"stopped: pid {pid}")
    return 0


def cmd_daemon_status(args: argparse.Namespace) -> int:
    from grader.daemon.client import status
    from grader.daemon.paths import held
    from grader.daemon.protocol import DaemonProblem

    paths = _existing_paths()
    if paths is None:
        print("not running")
        return 3
    try:
        found = status(paths)
    except DaemonProblem:
        print(f"starting: pid {paths.read_pid()}" if held(paths) else "not running")
        return 3
    print("\n".join(status_lines(found)))
    return 0


def status_lines(found: dict[str, Any]) -> list[str]:
    """What `grader daemon status` prints of a daemon's status."""
    pool = found.get("pool")
    warm = (
        f"{pool['ready']} ready, {pool['busy']} busy, {pool['starting']} starting"
        if isinstance(pool, dict)
        else "none (runs are cold)"
    )
    return [
        f"running: pid {found['pid']}, up {found['uptime_s']:g} s, "
        f"{found['requests']} check(s) served",
        f"bank: {found['bank']} ({found['backend']} backend)",
        f"warm pool: {warm}",
        f"idle exit: after {found['idle_s']:g} s without a check",
    ]


def _known_paths() -> DaemonPaths:
    """The user's daemon folder, made when missing; one that cannot be used is an error of
    the command."""
    from grader.daemon.protocol import DaemonProblem

    try:
        return _paths()
    except DaemonProblem as exc:
        raise GraderError(f"the daemon cannot run here: {exc}") from exc


def _existing_paths() -> DaemonPaths | None:
    """The user's daemon folder; None when there is none (no daemon ever ran): `status` and
    `stop` make nothing."""
    from grader.daemon.paths import DaemonPaths

    return _known_paths() if DaemonPaths.for_user().folder.exists() else None


def add_daemon_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`grader daemon start|stop|status`."""
    daemon = sub.add_parser("daemon", help="the warm daemon `grader check` uses")
    actions = daemon.add_subparsers(dest="daemon_command", required=True, metavar="ACTION")
    p = actions.add_parser("start", help="start it now (checks start it on first use)")
    add_backend_option(p)
    p.set_defaults(func=cmd_daemon_start)
    p = actions.add_parser("stop", help="end it and wait until it has")
    p.set_defaults(func=cmd_daemon_stop)
    p = actions.add_parser("status", help="pid, uptime, checks served, bank, warm pool")
    p.set_defaults(func=cmd_daemon_status)
