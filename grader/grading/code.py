"""question + submission + sandbox -> Report, for code exercises.

The sandbox runs the harness with the submission and a probe plan; observations come back on the
channel and are judged here. A sandbox failure is a report with status `error`; a forged or cut
channel fails closed.
"""

from __future__ import annotations

import secrets
import time

from grader.errors import ChannelError, GraderError, ReferenceMissing
from grader.grading.checks import judge
from grader.grading.reference import POOL, ReferenceStore
from grader.grading.submission import Source
from grader.models import CheckResult, CodeItem, Report, Status, Verdict
from grader.probe.channel import LOAD
from grader.probe.plan import build_plan, probe_id
from grader.probe.run import Run, run_harness
from grader.probe.summaries import describe_error
from sandbox.base import Sandbox
from sandbox.errors import SandboxError

LIMIT_VERDICTS = (
    ("timed_out", Verdict.TIME_LIMIT, "the time limit ran out"),
    ("memory_exceeded", Verdict.MEMORY_LIMIT, "the memory limit was exceeded"),
    ("output_exceeded", Verdict.OUTPUT_LIMIT, "it printed more than the output limit"),
)


def grade_code(
    item: CodeItem,
    source: Source,
    sandbox: Sandbox,
    references: ReferenceStore,
    data: dict[str, bytes] | None = None,
) -> Report:
    """Grade a submission to a code item; never raises for what the submission did."""
    started = time.perf_counter()
    variant = secrets.randbelow(POOL)
    try:
        varied = any(check.varied() for check in item.checks)
        seed = references.seeds(item)[variant] if varied else 0
        plan = build_plan(item.checks, source.cells, seed)
        expected = [references.expected(item, c, variant) for c in item.checks]
        run = run_harness(sandbox, item, source.text, data or {}, plan)
    except (SandboxError, ReferenceMissing) as exc:
        why = f"the grader could not run this submission: {exc}"
        return unscored_report(item, Status.ERROR, Verdict.INTERNAL_ERROR, why, sandbox.name)
    except ChannelError as exc:
        return unreadable(item, sandbox.name, time.perf_counter() - started, str(exc))
    try:
        checks = [
            judge(c, run.observations.get(probe_id(c)), ref, references.labels(item, c))
            for c, ref in zip(item.checks, expected, strict=True)
        ]
    except ReferenceMissing as exc:  # the item is broken, not the submission
        why = f"the grader could not run this submission: {exc}"
        return unscored_report(item, Status.ERROR, Verdict.INTERNAL_ERROR, why, sandbox.name)
    except GraderError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the submission's data does to the judge
        return unreadable(item, sandbox.name, time.perf_counter() - started, repr(exc)[:200])
    return build_report(
        item, run, checks, source.notes, time.perf_counter() - started, sandbox.name
    )


def unreadable(item: CodeItem, backend: str, took: float, why: str) -> Report:
    """A failed report: what the run sent back could not be read, so nothing it said counts."""
    message = (
        f"Your program's output could not be read ({why}); nothing it printed or sent counts "
        "as a result."
    )
    return unscored_report(item, Status.FAILED, Verdict.RUNTIME_ERROR, message, backend, took)


def build_report(
    item: CodeItem,
    run: Run,
    checks: list[CheckResult],
    notes: list[str],
    duration: float,
    backend: str,
) -> Report:
    verdict, message = verdict_of(run, checks, crashed(item, run, checks))
    passed = verdict is Verdict.PASSED
    if notes:
        message = "; ".join([*notes, message] if message else notes)
    return Report(
        question=item.id,
        status=Status.PASSED if passed else Status.FAILED,
        verdict=verdict,
        score=sum(c.score for c in checks),
        max_score=sum(c.max_score for c in checks),
        checks=checks,
        duration_s=round(duration, 3),
        backend=backend,
        explanation=item.explanation if passed else None,
        message=message or None,
    )


def crashed(item: CodeItem, run: Run, checks: list[CheckResult]) -> bool:
    """Did a failed check fail because the student's code raised where no raise was expected?"""
    for check, outcome in zip(item.checks, checks, strict=True):
        seen = run.observations.get(probe_id(check))
        if not outcome.passed and seen and "error" in seen and check.expect.raises is None:
            return True
    return False


def verdict_of(run: Run, checks: list[CheckResult], crashed: bool) -> tuple[Verdict, str]:
    """Limits first, then a crash while loading, then a run that never finished, then checks."""
    for flag, verdict, words in LIMIT_VERDICTS:
        if getattr(run.result, flag):
            return verdict, f"Your program was stopped: {words}."
    cut = run.observations.unreadable()
    if cut:
        return Verdict.RUNTIME_ERROR, (
            f"Your program's output could not be read ({cut}); nothing it sent after that counts."
        )
    load = run.observations.get(LOAD)
    if load and "error" in load:
        return Verdict.RUNTIME_ERROR, f"Your code raised {describe_error(load['error'])}."
    if not run.observations.done:
        code = run.result.exit_code if run.result.signal is None else f"signal {run.result.signal}"
        return Verdict.RUNTIME_ERROR, (
            f"Your program ended before grading finished (exit "
            f"{code}); do not call exit() or kill the process."
        )
    if all(c.passed for c in checks):
        return Verdict.PASSED, ""
    return (Verdict.RUNTIME_ERROR if crashed else Verdict.WRONG_ANSWER), ""


def unscored_report(
    item: CodeItem,
    status: Status,
    verdict: Verdict,
    message: str,
    backend: str,
    duration: float = 0.0,
) -> Report:
    """A report with no checks judged: the grader failed (status error), or the run's
    observations cannot be trusted (status failed)."""
    return Report(
        question=item.id,
        status=status,
        verdict=verdict,
        score=0.0,
        max_score=sum(c.points for c in item.checks),
        checks=[],
        duration_s=round(duration, 3),
        backend=backend,
        message=message,
    )
