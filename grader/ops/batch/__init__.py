"""Batch grading (`grader grade ITEM PATH...`): many submissions to one code item, one grader.

    sources.collect(paths)  the submissions PATHs hold: files, folders (recursively), LMS zips
    sources.Reader          a submission's bytes as a Source; zip members read in memory, capped
    outbox.Outbox           --out DIR: a report per submission, scores.csv appended as rows come
    grade_batch(...)        here: grade them on `jobs` threads through one `Grader` (one pool)

One `Grader` serves the whole batch: its sandbox is opened, its warm pool filled and the item's
reference observations computed before the first submission is graded, so every job takes the
warm path and no two threads compute the reference at once. The sandboxes are safe to share
between threads (the course server and `grader bench` do it): each run takes its own zygote or
container, and the pool is sized to `jobs` (`sized_for`) so each thread finds one ready.
Submissions are read on the calling thread, one at a time, a few ahead of the graders
(so a zip is read by one thread and memory holds a handful of files, not the batch).

Nothing a submission is stops the batch: a file that cannot be read as one (not UTF-8, not a
notebook, too big, a zip member refused) gets a row with status `unreadable` and a report saying
why (verdict RUNTIME_ERROR, score 0: what the course server gives such an upload), and a grader
failure on one submission gets a row with status `error`. Zip bombs are refused: too many
members, a member or all of them too large by their headers, or by the bytes actually inflated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from grader.errors import BadInput, BadSubmission, GraderError
from grader.grading import Grader
from grader.grading.code import unscored_report
from grader.grading.submission import Source
from grader.models import CodeItem, Report, Status, Verdict
from grader.ops.batch.outbox import UNREADABLE, Outbox, Row, Summary, check_out, report_names
from grader.ops.batch.sources import Entry, Reader, collect, one_line, student_of
from grader.settings import GraderSettings
from sandbox.errors import SandboxError
from sandbox.settings import SandboxSettings

__all__ = [
    "BadInput",
    "Entry",
    "Outbox",
    "Reader",
    "Row",
    "Summary",
    "check_out",
    "collect",
    "default_jobs",
    "grade_batch",
    "prepare",
    "sized_for",
    "student_of",
]


def default_jobs(sandbox: SandboxSettings) -> int:
    """Runs in flight: the warm pool's size when one is set, else the host's cores."""
    if sandbox.warm and sandbox.pool_size is not None:
        return sandbox.pool_size
    return max(1, len(os.sched_getaffinity(0)))


def sized_for(settings: GraderSettings, jobs: int) -> GraderSettings:
    """The settings with a warm pool sized to `jobs` runs in flight (unless one is set)."""
    sandbox = settings.sandbox
    pool = sandbox.model_copy(update={"pool_size": sandbox.pool_for(jobs)})
    return settings.model_copy(update={"sandbox": pool})


def prepare(grader: Grader, item: CodeItem) -> None:
    """Open the sandbox, wait for its warm pool, compute the reference: before the first job,
    so a backend that cannot run or a broken item stops the batch before anything is graded."""
    from sandbox.backends import wait_warm

    wait_warm(grader.sandbox)
    references = grader.references  # made here once, not by two threads at once
    if any(check.uses_reference() for check in item.checks):
        references.observations(item)


OnRow = Callable[[Row, Summary], None]


def grade_batch(
    grader: Grader,
    item: CodeItem,
    entries: Sequence[Entry],
    outbox: Outbox,
    jobs: int,
    on_row: OnRow | None = None,
) -> Summary:
    """Grade `entries` on `jobs` threads (the grader prepared), each row written as it ends.

    An interrupt (KeyboardInterrupt: Ctrl-C, or SIGTERM under `sigterm_interrupts`) closes the
    grader's sandbox (the runs in flight end), writes scores.csv of the rows done, and goes on up.
    """
    summary = Summary(item.id, len(entries), grader.sandbox.name, jobs, outbox.out)
    names = report_names(entries)
    started = time.perf_counter()

    def record(index: int, report: Report, status: str) -> None:
        row = Row(index, entries[index], report, status, names[index])
        outbox.add(row)
        summary.counts[status] = summary.counts.get(status, 0) + 1
        summary.grading_s = time.perf_counter() - started
        if on_row is not None:
            on_row(row, summary)

    try:
        with Reader() as reader, ThreadPoolExecutor(jobs, thread_name_prefix="batch") as pool:
            _run(grader, item, entries, reader, pool, jobs, record)
    finally:
        outbox.finish()
    return summary


def _run(
    grader: Grader,
    item: CodeItem,
    entries: Sequence[Entry],
    reader: Reader,
    pool: ThreadPoolExecutor,
    jobs: int,
    record: Callable[[int, Report, str], None],
) -> None:
    """Read each entry here, grade it on the pool (at most 2 x `jobs` read ahead), and record
    each report on this thread as it comes (one writer: no lock on the files)."""
    pending: dict[Future[Report], int] = {}
    try:
        for index, entry in enumerate(entries):
            while len(pending) >= 2 * jobs:
                _collect(pending, record)
            try:
                source = reader.read(entry)
            except BadSubmission as exc:
                record(index, _unreadable(item, str(exc), grader), UNREADABLE)
                continue
            pending[pool.submit(grade_one, grader, item, source)] = index
        while pending:
            _collect(pending, record)
    except BaseException:  # an interrupt: end the runs in flight before the pool waits for them
        for future in pending:
            future.cancel()
        grader.close()
        raise


def _collect(
    pending: dict[Future[Report], int], record: Callable[[int, Report, str], None]
) -> None:
    done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
    for future in sorted(done, key=pending.__getitem__):
        report = future.result()
        record(pending.pop(future), report, report.status.value)


def grade_one(grader: Grader, item: CodeItem, source: Source) -> Report:
    """The report of one submission; a failure of the grader becomes a `status: error`
    report (as on the course server), so the batch goes on."""
    try:
        return grader.grade(item, source)
    except (GraderError, SandboxError) as exc:
        why = f"the grader could not grade this submission: {one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - one submission must not end the batch
        why = f"internal error while grading ({type(exc).__name__}: {one_line(exc)})"
    return unscored_report(item, Status.ERROR, Verdict.INTERNAL_ERROR, why, _backend(grader))


def _unreadable(item: CodeItem, why: str, grader: Grader) -> Report:
    return unscored_report(item, Status.FAILED, Verdict.RUNTIME_ERROR, why, _backend(grader))


def _backend(grader: Grader) -> str:
    return grader.sandbox.name
