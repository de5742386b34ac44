"""An assignment's rules applied: is it open, how late, how much is the score worth, what may a
student see. Pure functions of the assignment, the time and the student's attempts, so each rule
is tested at its edge without a server."""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta

from grader.models import CheckResult, Report, ReportVariant
from grader.models.assignment import AfterAttempts, Assignment, Level, RevealRule, When

UNIT = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    """Whether a submission made `at` is taken, and the share of its score it keeps."""

    open: bool
    reason: str
    penalty: float = 0.0  # share of the score lost (0 on time)


def window(assignment: Assignment, at: datetime) -> Window:
    """Refused before `opens` and after the last moment the late policy allows."""
    if at < assignment.opens:
        return Window(False, f"{assignment.id} opens at {assignment.opens.isoformat()}")
    if at <= assignment.due:
        return Window(True, "on time")
    if at > assignment.closes():
        last = assignment.closes().isoformat()
        return Window(False, f"{assignment.id} closed at {last} (due {assignment.due.isoformat()})")
    return Window(True, "late", late_penalty(assignment, at))


def late_penalty(assignment: Assignment, at: datetime) -> float:
    """The share lost: `penalty` per started hour or day after due, at most all of it."""
    late = assignment.late
    if late.accept != "with_penalty" or at <= assignment.due:
        return 0.0
    units = math.ceil((at - assignment.due) / UNIT[late.per])
    return min(1.0, round(units * late.penalty, 6))


def scaled(report: Report, points: float, penalty: float) -> tuple[float, float]:
    """(score, max) in the assignment's points, after the late penalty."""
    if report.max_score <= 0:
        return 0.0, points
    share = report.score / report.max_score
    return round(points * share * (1.0 - penalty), 6), points


@dataclass(frozen=True)
class History:
    """What the student did on this item before the report being shown (and with it)."""

    attempts: int  # including the one being shown
    ever_correct: bool


def level(rule: RevealRule, history: History, due_passed: bool) -> Level:
    """The highest level whose condition holds (each level also needs the ones below it)."""
    shown = Level.VERDICT
    for name, value in (
        ("feedback", Level.FEEDBACK),
        ("checks", Level.CHECKS),
        ("key", Level.KEY),
    ):
        if not holds(getattr(rule, name), history, due_passed):
            break
        shown = value
    return shown


def rule_for(assignment: Assignment, kind: str) -> RevealRule:
    """The reveal rule of the item's kind; an unknown kind shows only the verdict."""
    rule = getattr(assignment.reveal, kind, None)
    if isinstance(rule, RevealRule):
        return rule
    return RevealRule(feedback="never", checks="never", key="never")


def closed(assignment: Assignment, now: datetime) -> bool:
    """`after_due` means after the last moment work is taken: the key shown to on-time work
    while late work is still taken would be handed to the late (`due`, or the late cut-off)."""
    return now > assignment.closes()


def level_now(
    assignments: Iterable[Assignment],
    own: Assignment,
    names: AbstractSet[str],
    kind: str,
    history: History,
    now: datetime,
) -> Level:
    """The level `own`'s rule gives this attempt, capped by every other assignment that lists
    the item (under any of its `names`: `Bank.names_of`): a looser one (a warm-up, last term's,
    another course's) must not show what a stricter one still hides. Another assignment's
    conditions on a student's own attempts never hold here (its students are others), so only
    its time-based ones can raise its cap."""
    shown = level(rule_for(own, kind), history, closed(own, now))
    for other in assignments:
        if other.id != own.id and lists(other, names):
            cap = level(rule_for(other, kind), History(0, False), closed(other, now))
            shown = min(shown, cap)
    return shown


def practice_open(
    assignments: Iterable[Assignment], names: AbstractSet[str], kind: str, now: datetime
) -> bool:
    """Practice shows a whole report at once: only when every assignment listing the item
    (under any of its `names`) would show its whole report to anyone now."""
    return all(
        level(rule_for(a, kind), History(0, False), closed(a, now)) is Level.KEY
        for a in assignments
        if lists(a, names)
    )


def lists(assignment: Assignment, names: AbstractSet[str]) -> bool:
    """Whether `assignment` lists the item under any of its names."""
    return any(assignment.entry(name) is not None for name in names)


def holds(when: When, history: History, due_passed: bool) -> bool:
    if isinstance(when, AfterAttempts):
        return history.attempts >= when.after_attempts
    return {
        "always": True,
        "after_correct": history.ever_correct,
        "after_due": due_passed,
        "never": False,
    }[when]


def reveal(report: Report, kind: str, shown: Level) -> Report:
    """The report cut to what `shown` allows for an item of `kind`. A level an item kind has no
    use for shows what the level below does: for mcq, numeric and predict items the check's
    message states the key or the accepted range, so only FEEDBACK (mcq: the chosen option's own
    feedback) and KEY add anything."""
    if shown >= Level.KEY:
        return report
    checks = [_check(c, kind, shown) for c in report.checks]
    return report.model_copy(
        update={"checks": checks, "explanation": None, "variant": _variant(report)}
    )


def _variant(report: Report) -> ReportVariant | None:
    """Below KEY a report names its variant by seed only: the drawn values may include one only
    a key reads (a tolerance, a hidden check's input), and the option ids may name the key."""
    if report.variant is None:
        return None
    return ReportVariant(seed=report.variant.seed)


def _check(check: CheckResult, kind: str, shown: Level) -> CheckResult:
    words = {
        "code": shown >= Level.CHECKS,
        "mcq": shown >= Level.FEEDBACK,
    }.get(kind, False)
    if words:
        expected = check.expected if kind == "code" else None
        return check.model_copy(update={"expected": expected})
    hint = check.hint if kind == "code" and shown >= Level.FEEDBACK else None
    return CheckResult(
        name=check.name,
        passed=check.passed,
        score=check.score,
        max_score=check.max_score,
        message="passed" if check.passed else "not passed",
        hint=hint,
    )
