"""CLI commands that grade: `check`, `answer` and `selftest`, all through `Grader`.

`check` and `answer` grade one answer and exit: their sandbox runs cold, as with
`GRADER_WARM=0`, since a warm pool would be started for nothing (its zygotes import torch while
the one run goes cold anyway). `selftest`, `hostile`, `bench` and the server grade many and keep
the warm path. `check` asks the user's warm daemon first (grader/cli/daemon.py, grader/daemon/),
which grades as `check_file` does here; this is the one-shot path it falls back to.

`answer` imports only what grading its item needs: no sandbox, no settings for an mcq or numeric
item (grader/grading/grader.py); the self-test's machinery is imported by `selftest` alone.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING

from grader.cli.options import add_backend_option, add_log_options, settings_for
from grader.cli.output import progress
from grader.cli.views import item_bank, variant_of
from grader.grading import Answer, Grader
from grader.grading.grader import runs_code
from grader.grading.submission import read_submission

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.models import Report
    from grader.ops.selftest import Row
    from grader.settings import GraderSettings

#: The shared options live in grader.cli.options (light to import); still importable from here.
__all__ = ["add_backend_option", "add_log_options", "check_file", "grade_one", "settings_for"]


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


@contextmanager
def one_shot(bank: Bank, settings: Callable[[], GraderSettings]) -> Iterator[Grader]:
    """A grader for one answer: its sandbox (opened only if the item needs one) runs cold, and
    is closed after; SIGTERM interrupts it as Ctrl-C does. `settings` is called only if the item
    needs them (an mcq answer reads none)."""

    def cold() -> GraderSettings:
        given = settings()
        cold = given.sandbox.model_copy(update={"warm": False})
        return given.model_copy(update={"sandbox": cold})

    with sigterm_interrupts(), Grader(bank, settings=cold) as grader:
        yield grader


def grade_one(args: argparse.Namespace, bank: Bank, answer: Answer) -> Report:
    """Grade one answer to the item `args.id`; with a terminal and no `--json`, say so while a
    sandbox runs it. The settings (`--bank`, `--backend`, `GRADER_*`) are read only if the item
    needs a sandbox. A varying item is graded in the variant of `--seed`, else this machine's
    (the one `grader show` printed)."""
    item = variant_of(bank, args.id, args.seed)
    with one_shot(bank, lambda: settings_for(args)) as grader:
        with progress(f"grading {item.id} …", not args.json and runs_code(item)):
            return grader.grade(item, answer)


def check_file(args: argparse.Namespace) -> Report:
    """Grade a .py or .ipynb file for a code item (`grader check ID FILE`)."""
    bank, _ = item_bank(args.bank, args.id)
    bank.get(args.id)  # an unknown id is reported before the file is read
    return grade_one(args, bank, read_submission(args.file))


def cmd_selftest(args: argparse.Namespace) -> int:
    """The table streams: its header at once, then the rows in order as cases finish (`--jobs`
    at once), then the sum.
    A varying item is proven on seeds 0..N-1 (`--variants N`, else `GRADER_SELFTEST_VARIANTS`);
    with `--every-draw`, an item whose inputs are drawn per run on each seed of its pool."""
    from grader.bank import load_bank
    from grader.ops.batch import default_jobs, sized_for
    from grader.ops.selftest import Table, plan, selftest
    from sandbox.backends import wait_warm

    settings = settings_for(args)
    jobs = args.jobs or default_jobs(settings.sandbox)
    bank = load_bank([settings.bank])
    items = [bank.get(i) for i in args.ids] if args.ids else list(bank.items.values())
    variants = args.variants or settings.selftest_variants
    ordered = sorted(items, key=lambda i: i.id)
    plans = plan(bank, ordered, settings.solutions, variants, every_draw=args.every_draw)
    table = Table.of(plans)
    print(table.header(), flush=True)
    rows: list[Row] = []
    with sigterm_interrupts(), Grader(bank, settings=sized_for(settings, jobs)) as grader:
        wait_warm(grader.sandbox)  # the self-test runs on the warm path where the backend has one
        with closing(selftest(plans, grader, jobs)) as cases:  # nothing new starts after
            for row in cases:
                rows.append(row)
                print(table.line(row), flush=True)
    print(table.summary(rows))
    if bank.issues:
        print(
            f"error: {len(bank.issues)} problem(s) in the bank; run `grader validate`",
            file=sys.stderr,
        )
        return 2
    return 0 if all(r.ok for r in rows) else 1
