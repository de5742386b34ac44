"""One cause, said once: what explains several failed checks, and the checks it explains.

A report used to repeat one cause per check: a NameError per check for a misnamed function, an
AttributeError per check for a missing `return`, "stopped before it ran" with an unrelated hint
per check after a syntax error. Each cause found here is a `Diagnosis`: one sentence for the top
of the report (none when the verdict's message already says it) and the checks it explains,
each then failed with a short `skipped: reason` and no hint.

Only a contract not met skips checks that passed: their target is not the student's function,
so nothing they observed means anything. Every other diagnosis explains checks that failed
anyway. A skipped check scores 0, so a diagnosis (built on what the student's run said) can
lower a score, never raise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grader.grading.checks import Seen, type_of
from grader.grading.contract import direct_callee, unmet, uses
from grader.models import Check, CheckResult, CodeItem
from grader.models.code import Expect
from grader.probe.channel import LOAD
from grader.probe.plan import probe_id
from grader.probe.run import Run
from grader.probe.summaries import Observation, is_syntax_error

#: Why checks that never ran did not, by the limit that stopped the run.
STOPPED = (
    ("timed_out", "the time limit stopped your program before this check finished"),
    ("memory_exceeded", "the memory limit stopped your program before this check finished"),
    ("output_exceeded", "the output limit stopped your program before this check finished"),
)
#: Errors a check's own code raises on a wrong value it was given (`None.eval()`).
WRONG_VALUE_ERRORS = ("AttributeError", "TypeError")


@dataclass(frozen=True)
class Diagnosis:
    """A cause: `said` once at the top of the report, `reason` for each check it explains."""

    said: str
    reason: str
    checks: frozenset[int]
    #: Also skip checks that passed (a contract not met): this only ever lowers the score.
    lowers: bool = False


def diagnose(item: CodeItem, run: Run, results: Sequence[CheckResult]) -> list[Diagnosis]:
    """Every cause found, the first that explains a check being the one its reason names."""
    load = run.observations.get(LOAD)
    found = [d for d in (stopped_early(item, run), load_failed(item, load)) if d is not None]
    return found + contract_unmet(item, load) + returned_wrong(item, run, results)


def skip(
    item: CodeItem, results: Sequence[CheckResult], diagnoses: Sequence[Diagnosis]
) -> tuple[list[CheckResult], set[int]]:
    """The results with every explained check failed as skipped, and which were."""
    out, skipped = [], set()
    for index, (check, result) in enumerate(zip(item.checks, results, strict=True)):
        for diagnosis in diagnoses:
            if index in diagnosis.checks and (diagnosis.lowers or not result.passed):
                result = skipped_result(check, diagnosis.reason)
                skipped.add(index)
                break
        out.append(result)
    return out, skipped


def skipped_result(check: Check, reason: str) -> CheckResult:
    return CheckResult(
        name=check.name,
        passed=False,
        score=0.0,
        max_score=check.points,
        message=f"{check.message} Skipped: {reason}.",
        observed=f"skipped: {reason}",
    )


def stopped_early(item: CodeItem, run: Run) -> Diagnosis | None:
    """A run stopped by a limit or ended early: the checks it never observed."""
    if run.observations.done and not any(getattr(run.result, f) for f, _ in STOPPED):
        return None
    why = next((w for f, w in STOPPED if getattr(run.result, f)), None)
    never = [i for i, c in enumerate(item.checks) if run.observations.get(probe_id(c)) is None]
    reason = why or "your program ended before this check ran"
    return Diagnosis("", f"{reason} (see above)", frozenset(never)) if never else None


def load_failed(item: CodeItem, load: Observation | None) -> Diagnosis | None:
    """The file did not load (a syntax error, an exception): no check means anything."""
    error = load.get("error") if load else None
    if error is None:
        return None
    what = "has a syntax error" if is_syntax_error(error) else "raised an error while loading"
    return Diagnosis("", f"your file {what} (see above)", frozenset(range(len(item.checks))))


def contract_unmet(item: CodeItem, load: Observation | None) -> list[Diagnosis]:
    """A contract name missing, not callable, or taking other parameters (as the runner says)."""
    if not load or "error" in load or "defines" not in load:
        return []
    return [
        Diagnosis(
            problem.said,
            problem.reason,
            frozenset(i for i, c in enumerate(item.checks) if uses(c, [problem.name])),
            lowers=True,
        )
        for problem in unmet(item, load["defines"])
    ]


def returned_wrong(item: CodeItem, run: Run, results: Sequence[CheckResult]) -> list[Diagnosis]:
    """A contract function that returned None, or a value of the wrong type, where a public
    check observes its return value as it is: said once, for every check it broke."""
    names = [c.name for c in item.contract]
    found: dict[str, Diagnosis] = {}
    for check, result in zip(item.checks, results, strict=True):
        callee = direct_callee(check, names)
        if result.passed or check.hidden or callee is None or callee in found:
            continue
        seen = run.observations.get(probe_id(check)) or {}
        kind = str((seen.get("result") or {}).get("type") or "")
        said = wrong_return(callee, check, seen, kind)
        if said:
            kind_name = kind.rsplit(".", 1)[-1]
            reason = f"`{callee}` returned {'None' if kind == 'NoneType' else f'a `{kind_name}`'}"
            broken = explained(item, run, results, callee, kind)
            found[callee] = Diagnosis(said, f"{reason} (see above)", broken)
    return list(found.values())


def wrong_return(callee: str, check: Check, seen: Observation, kind: str) -> str:
    """What is wrong with the value a check observed `callee` return, or ""."""
    if kind == "NoneType" and wants_value(check.expect):
        return f"`{callee}` returned None: did you forget `return`?"
    spec = check.expect.type
    if kind and spec is not None and not type_of(spec, Seen.of(check.expect, seen, None, [])).ok:
        return f"`{callee}` returned a `{kind.rsplit('.', 1)[-1]}`; the checks expect a `{spec}`."
    return ""


def wants_value(expect: Expect) -> bool:
    """Whether a check expects a value other than None."""
    if expect.type is not None:
        return expect.type != "NoneType"
    asked = (expect.types, expect.shape, expect.dtype, expect.value, expect.trainable)
    proofs = (expect.conforms, expect.accuracy, expect.step_rates)
    return any(v is not None for v in (*asked, *proofs))


def explained(
    item: CodeItem, run: Run, results: Sequence[CheckResult], callee: str, kind: str
) -> frozenset[int]:
    """Failed checks that observed `callee`'s value of `kind`, or whose own code raised on it
    outside the student's code (`'NoneType' object has no attribute 'eval'`, `unsupported
    operand type(s) for *: 'NoneType' and 'int'`)."""
    names = [c.name for c in item.contract]
    shown = f"'{kind.rsplit('.', 1)[-1]}'"
    found = set()
    for index, (check, result) in enumerate(zip(item.checks, results, strict=True)):
        seen = run.observations.get(probe_id(check)) or {}
        error = seen.get("error") or {}
        kind_seen = (seen.get("result") or {}).get("type")
        direct = direct_callee(check, names) == callee and kind_seen == kind
        raised = (
            str(error.get("type")) in WRONG_VALUE_ERRORS
            and not error.get("frames")
            and shown in str(error.get("message", ""))
            and callee in uses(check, names)
        )
        if not result.passed and (direct or raised):
            found.add(index)
    return frozenset(found)
