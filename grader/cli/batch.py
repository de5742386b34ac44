"""`grader grade ITEM PATH...`: grade many submissions to a code item; the logic is
grader/ops/batch.py, this module parses, shows progress and prints the summary.

Progress goes to stderr: a bar (done/total, jobs/s, time left) when stderr is a terminal and the
summary is not `--json`, plain lines otherwise (about one a second, and one for each submission
that could not be read or graded); the summary goes to stdout. Building the parser imports
nothing of the grader's machinery (grader/cli/app.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.cli.options import add_backend_option, positive, settings_for
from grader.cli.output import console, emit, progress, styled
from grader.cli.views import item_bank, report_problems
from grader.errors import BadInput
from grader.text import printable

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.models import CodeItem
    from grader.ops.batch import Row, Summary

#: Seconds between two plain progress lines.
PLAIN_EVERY_S = 1.0


def add_batch_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("grade", help="grade many files, folders or LMS zips for a code item")
    p.add_argument("id", metavar="ITEM")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help=".py, .ipynb, folder, .zip")
    p.add_argument("--out", type=Path, help="scores.csv and reports/ (default: ./grades-ITEM/)")
    p.add_argument(
        "--jobs",
        type=positive,
        help="submissions at once (default: GRADER_POOL_SIZE, else the cores)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_backend_option(p)
    p.set_defaults(func=cmd_grade)


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.cli.grading import sigterm_interrupts
    from grader.grading import Grader
    from grader.ops.batch import (
        Outbox,
        check_out,
        collect,
        default_jobs,
        grade_batch,
        prepare,
        sized_for,
    )

    bank, problems = item_bank(args.bank, args.id)
    report_problems(problems)
    item = batch_item(bank, args.id)
    entries, empty = collect(args.paths)
    for path in empty:
        print(f"warning: {path}: no .py or .ipynb file in it", file=sys.stderr)
    if not entries:
        raise BadInput("no .py or .ipynb submission in the PATHs given")
    out: Path = args.out or Path(f"grades-{item.id}")
    check_out(out)
    settings = settings_for(args)
    jobs = args.jobs or default_jobs(settings.sandbox)
    with sigterm_interrupts(), Grader(bank, settings=sized_for(settings, jobs)) as grader:
        started = time.perf_counter()
        with progress(f"starting the {grader.backend} sandbox …", not args.json):
            prepare(grader, item)
        startup = time.perf_counter() - started
        outbox = Outbox(out)
        shown = Shown(len(entries), bar=not args.json and styled(sys.stderr))
        try:
            summary = grade_batch(grader, item, entries, outbox, jobs, shown.row)
        except KeyboardInterrupt:
            shown.close()
            kept = f"kept {len(outbox.rows)} of {len(entries)} row(s) in {outbox.scores}"
            print(kept, file=sys.stderr)
            raise
        shown.close()
    summary.startup_s = startup
    emit(json.dumps(summary.to_json(), indent=2) if args.json else summary_text(summary))
    return 3 if summary.counts.get("error") else 0


def batch_item(bank: Bank, item_id: str) -> CodeItem:
    """The code item a batch grades; `BadInput` for another kind or an item that varies per
    student (each student's variant is known to the course server only)."""
    from grader.models import CodeItem

    item = bank.get(item_id)
    if not isinstance(item, CodeItem):
        raise BadInput(
            f"{item.id!r} is a {item.kind} item: `grader grade` grades files for code items"
        )
    if _varies(bank, item):
        raise BadInput(
            f"{item.id} varies per student; batch grading of varying items goes through the "
            "course server"
        )
    return item


def _varies(bank: Bank, item: CodeItem) -> bool:
    """`Item.varies` (issue 17's items with `params:`), read so that a bank without it works."""
    return bool(getattr(item, "varies", False))


def summary_text(summary: Summary) -> str:
    counts = summary.counts
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed", "unreadable"))
    error = counts.get("error", 0)
    lines = [
        f"{summary.done} submission(s) of {summary.item}: {parts}, {error} error"
        + (" (not graded: run them again)" if error else ""),
        f"graded in {summary.grading_s:.1f} s: {summary.rate:.1f} jobs/s with {summary.jobs} "
        f"job(s) on the {summary.backend} backend; start-up {summary.startup_s:.1f} s",
        f"scores: {summary.out / 'scores.csv'}; reports: {summary.out / 'reports'}/",
    ]
    return "\n".join(lines)


class Shown:
    """The batch's progress on stderr, as rows come (on the thread that records them)."""

    def __init__(self, total: int, bar: bool) -> None:
        self.total = total
        self._last = 0.0
        self._bar: Any = None
        if bar:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            columns = (TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
            self._bar = Progress(
                TextColumn("grading"),
                BarColumn(),
                MofNCompleteColumn(),
                *columns,
                console=console(sys.stderr),
            )
            self._task = self._bar.add_task("grading", total=total, rate="")
            self._bar.start()

    def row(self, row: Row, summary: Summary) -> None:
        if row.status in ("unreadable", "error"):
            why = (row.report.message or "-").splitlines()[0]
            named = why if why.startswith(row.entry.name) else f"{row.entry.name}: {why}"
            self._line(printable(f"{row.status}: {named}"))
        rate = f"{summary.rate:.1f} jobs/s"
        if self._bar is not None:
            self._bar.update(self._task, completed=summary.done, rate=rate)
            return
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY_S or summary.done == self.total:
            self._last = now
            left = (self.total - summary.done) / summary.rate if summary.rate else 0.0
            self._line(f"{summary.done}/{self.total} done, {rate}, about {left:.0f} s left")

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
