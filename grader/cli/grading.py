"""CLI commands that grade: `check`, `answer` and `selftest`, all through `Grader`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from grader.bank import Bank, load_bank
from grader.grading import Answer, Grader
from grader.grading.submission import read_submission
from grader.models import Report
from grader.ops.selftest import selftest, table
from grader.settings import GraderSettings, with_flags
from sandbox.backends import BACKENDS, wait_warm


def settings_for(args: argparse.Namespace) -> GraderSettings:
    """The grader's settings, with `--bank` and `--backend` over their variables."""
    return with_flags(getattr(args, "bank", None), getattr(args, "backend", None))


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops a one-shot command as Ctrl-C does (`KeyboardInterrupt`: `error:
    interrupted`, exit 3), so its sandbox is closed on the way out and nothing it started (a run,
    a zygote, their folders) outlives it; by default SIGTERM would end the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and gets the signals)
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def grade_one(settings: GraderSettings, bank: Bank, item_id: str, answer: Answer) -> Report:
    """Grade one answer; a sandbox is opened only if the item needs one, and closed after."""
    with sigterm_interrupts(), Grader(bank, settings=settings) as grader:
        return grader.grade(item_id, answer)


def check_file(args: argparse.Namespace) -> Report:
    """Grade a .py or .ipynb file for a code item (`grader check ID FILE`)."""
    settings = settings_for(args)
    bank = load_bank([settings.bank])
    item = bank.get(args.id)  # an unknown id is reported before the file is read
    return grade_one(settings, bank, item.id, read_submission(args.file))


def cmd_selftest(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    bank = load_bank([settings.bank])
    items = [bank.get(i) for i in args.ids] if args.ids else list(bank.items.values())
    with sigterm_interrupts(), Grader(bank, settings=settings) as grader:
        wait_warm(grader.sandbox)  # the self-test runs on the warm path where the backend has one
        rows = selftest(sorted(items, key=lambda i: i.id), grader)
    print(table(rows))
    if bank.issues:
        print(
            f"error: {len(bank.issues)} problem(s) in the bank; run `grader validate`",
            file=sys.stderr,
        )
        return 2
    return 0 if all(r.ok for r in rows) else 1


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=BACKENDS, help="sandbox backend (default: $GRADER_BACKEND or process)"
    )


def add_log_options(p: argparse.ArgumentParser) -> None:
    """`--log-level` and `--log-format` of `grader serve` and `grader worker`."""
    p.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: $GRADER_LOG_LEVEL or info",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="one line per event as text or JSON (default: $GRADER_LOG_FORMAT or text)",
    )
