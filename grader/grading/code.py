"""question + submission + sandbox -> Report, for code exercises.

The sandbox runs the harness with the submission and a probe plan; observations come back on the
channel and are judged here. A sandbox failure is a report with status `error`; a forged or cut
channel fails closed. What explains several failed checks at once (a syntax error, a contract
not met, a function that returns None) is said once and the checks it explains are skipped
(`grader.grading.feedback`); what the program printed comes with the report (`output`).
"""

from __future__ import annotations

import secrets
import time

from grader.errors import ChannelError, GraderError, ReferenceMissing
from grader.grading.checks import judge
from grader.grading.feedback import diagnose, skip
from grader.grading.output import student_output
from grader.grading.reference import POOL, ReferenceStore
from grader.grading.submission import Source
from grader.models import CheckResult, CodeItem, Report, Status, Verdict
from grader.probe.channel import LOAD
from grader.probe.plan import probe_id, student_plan
from grader.probe.run import Run, run_harness
from grader.probe.summaries import (
    ErrorSummary,
    Running,
    describe_error,
    describe_syntax_error,
    is_syntax_error,
    short,
    where,
)
from sandbox.base import Sandbox
from sandbox.errors import SandboxError

LIMIT_VERDICTS = (
    ("memory_exceeded", Verdict.MEMORY_LIMIT, "the memory limit was exceeded"),
    ("output_exceeded", Verdict.OUTPUT_LIMIT, "it printed more than the output limit"),
)


def grade_code(
    item: CodeItem,
    source: Source,
    sandbox: Sandbox,
    references: ReferenceStore,
    data: dict[str, bytes] | None = None,
    draw: int | None = None,
) -> Report:
    """Grade a submission to a code item; never raises for what the submission did. Inputs
    drawn per run come from one seed of the item's pool: `draw` (0..POOL-1, the self-test's
    `--every-draw`), else one at random, so nobody knows the next run's inputs in advance."""
    if draw is not None and not 0 <= draw < POOL:
        raise ValueError(f"draw {draw} is not one of the pool's 0..{POOL - 1}")
    started = time.perf_counter()
    variant = secrets.randbelow(POOL) if draw is None else draw
    try:
        seed = references.seeds(item)[variant] if item.draws_inputs else 0
        plan = student_plan(item, source.cells, seed)
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
    took = time.perf_counter() - started
    return build_report(item, run, checks, source.notes, took, sandbox.name)


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
    judged: list[CheckResult],
    notes: list[str],
    duration: float,
    backend: str,
) -> Report:
    diagnoses = diagnose(item, run, judged)
    checks, skipped = skip(item, judged, diagnoses)
    verdict, message = verdict_of(item, run, checks, crashed(item, run, checks, skipped))
    said = [message, *(d.said for d in diagnoses if d.said)]
    passed = verdict is Verdict.PASSED
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
        message="\n".join(filter(None, said)) or None,
        notes=notes,
        output=student_output(item, run),
    )


def crashed(item: CodeItem, run: Run, checks: list[CheckResult], skipped: set[int]) -> bool:
    """Did a failed check fail because the student's code raised where no raise was expected?
    (A skipped check's failure has another cause, said once.)"""
    for index, (check, outcome) in enumerate(zip(item.checks, checks, strict=True)):
        seen = run.observations.get(probe_id(check))
        failed = not outcome.passed and index not in skipped
        if failed and seen and "error" in seen and check.expect.raises is None:
            return True
    return False


def verdict_of(
    item: CodeItem, run: Run, checks: list[CheckResult], crashed: bool
) -> tuple[Verdict, str]:
    """Limits first, then a crash while loading, then a run that never finished, then checks."""
    if run.result.timed_out:
        return Verdict.TIME_LIMIT, timed_out(item, run.observations.running)
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
        return Verdict.RUNTIME_ERROR, load_error(load["error"])
    if not run.observations.done:
        code = run.result.exit_code if run.result.signal is None else f"signal {run.result.signal}"
        return Verdict.RUNTIME_ERROR, (
            f"Your program ended before grading finished (exit "
            f"{code}); do not call exit() or kill the process."
        )
    if all(c.passed for c in checks):
        return Verdict.PASSED, ""
    return (Verdict.RUNTIME_ERROR if crashed else Verdict.WRONG_ANSWER), ""


def load_error(error: ErrorSummary) -> str:
    """Why the file did not load: a syntax error with its line and a caret under the column,
    anything else as it was raised (with the student's line)."""
    if is_syntax_error(error):
        return f"Python cannot read your file: {describe_syntax_error(error)}"
    return f"Your code raised {describe_error(error)}."


def timed_out(item: CodeItem, running: Running | None) -> str:
    """The limit (the item's, known here) and where the student's code was when it ran out (the
    runner watchdog's last sample: feedback only)."""
    text = f"Your program was stopped after {item.limits.wall_s:g} s, the item's time limit."
    if running is None:
        return text
    probe = str(running.get("probe"))
    during = "while your file was loading" if probe == LOAD else f"during check `{probe}`"
    if running.get("line") is None:
        return f"{text} It was not running your own code at that moment ({during})."
    function = str(running.get("function") or "")
    inside = f", in `{short(function)}`" if function and function != "<module>" else ""
    code = short(str(running.get("code") or ""))
    return f"{text} It was at {where(running)} of your code{inside}: `{code}` ({during})."


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
