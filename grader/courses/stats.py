"""Item statistics an instructor reads after an assignment: how hard each item was at the first
attempt and in the end, whether it tells apart the students who do well elsewhere, which mcq
options draw whom, which checks fail, how many attempts a pass takes, how long grading takes,
and flags on the items worth a second look.

Pure functions of graded attempts: the caller picks the population (one assignment's or a whole
course's), so every number here can be worked out by hand in a test. Shares are fractions 0..1;
a statistic with nobody to compute it over is None, never a made-up 0.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: Facility at the first attempt under this: the item is too hard (or its key is wrong).
TOO_HARD_BELOW = 0.2
#: Facility at the first attempt over this: the item tells students apart little.
TOO_EASY_ABOVE = 0.95
#: An option nobody chose means something only when enough students chose at all.
MIN_STUDENTS_FOR_DISTRACTORS = 5
#: Strong and weak groups of fewer than this many students would be one or two people.
MIN_STUDENTS_FOR_GROUPS = 4
#: Kelley's upper and lower 27%: the usual groups of classical item analysis.
GROUP_PERCENT = 27
#: A correlation needs two students at least.
MIN_STUDENTS_FOR_DISCRIMINATION = 2
#: The kind of an item the attempts name but the caller's items do not.
UNKNOWN_KIND = "unknown"
#: How a missing statistic is written.
MISSING = "—"


@dataclass(frozen=True)
class Attempt:
    """One graded submission, as the statistics read it."""

    student: str
    item: str
    attempt: int  # 1, 2, ... : the order of this student's graded submissions to the item
    # fraction of the item's marks, 0.0 .. 1.0 (after any override, before late penalties)
    score: float
    correct: bool  # the verdict was PASSED
    choice: str | None = None  # for mcq: the letter submitted (A, B, ...), else None
    failed_checks: tuple[str, ...] = ()  # code items: names of checks that failed
    checks: tuple[str, ...] = ()  # code items: names of every check in the report
    duration_s: float = 0.0  # grading time


@dataclass(frozen=True)
class ItemInfo:
    """What the statistics need to know of an item from the bank (keys stay on the host)."""

    id: str
    kind: str  # "mcq", "numeric", "code", "predict", ...
    letters: tuple[str, ...] = ()  # mcq: the option letters, e.g. ("A","B","C","D")
    answer: str | None = None  # mcq: the correct letter


@dataclass(frozen=True)
class Flag:
    """An item worth a second look; `message` is one line that names the item and says why."""

    item: str
    code: str
    message: str


@dataclass(frozen=True)
class OptionStats:
    """One mcq option as chosen at the students' first attempts. Every share is over the students
    (all, the strong group, the weak group) whose first choice was one of the item's letters: a
    blank or unreadable first choice says nothing about the options, so it is left out rather
    than counted as choosing none. A share is None when that denominator is empty."""

    letter: str
    picked: int  # students whose first choice was this letter
    share: float | None
    correct: bool
    picked_by_strong: float | None  # None: fewer than MIN_STUDENTS_FOR_GROUPS students
    picked_by_weak: float | None


@dataclass(frozen=True)
class ItemStats:
    """One item's statistics over the students who submitted it."""

    id: str
    kind: str
    students: int
    attempts: int
    facility_first: float | None
    facility_final: float | None
    discrimination: float | None
    options: list[OptionStats] = field(default_factory=list)
    check_failure_rates: dict[str, float] = field(default_factory=dict)
    median_attempts_to_pass: float | None = None
    duration_p50: float | None = None
    duration_p95: float | None = None
    flags: list[Flag] = field(default_factory=list)


@dataclass(frozen=True)
class CourseStats:
    """Every item's statistics, and all their flags in item order."""

    students: int
    items: list[ItemStats]
    flagged: list[Flag]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers, strings and None, for `json.dumps` or an API response."""
        return asdict(self)


@dataclass(frozen=True)
class _History:
    """One student's graded attempts at one item, reduced to what the statistics read."""

    first: Attempt  # the lowest attempt number
    passed_at: int | None  # the attempt number of the first correct one
    best: float


Best = dict[str, dict[str, float]]  # student -> item -> best score


def item_stats(attempts: Sequence[Attempt], items: Sequence[ItemInfo]) -> CourseStats:
    """The statistics of `items` (and of any item the attempts name that `items` does not, as
    kind "unknown", after them in id order) over every attempt given."""
    infos = _catalog(attempts, items)
    by_item: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_item[attempt.item].append(attempt)
    histories = {info.id: _histories(by_item[info.id]) for info in infos}
    best: Best = defaultdict(dict)
    for item, own in histories.items():
        for student, history in own.items():
            best[student][item] = history.best
    rows = [_item(info, by_item[info.id], histories[info.id], best) for info in infos]
    students = len({a.student for a in attempts})
    return CourseStats(students, rows, [flag for row in rows for flag in row.flags])


def _catalog(attempts: Sequence[Attempt], items: Sequence[ItemInfo]) -> list[ItemInfo]:
    """`items` (the first of a repeated id), then the attempts' other items, sorted."""
    known = {info.id: info for info in reversed(items)}
    unknown = sorted({a.item for a in attempts} - known.keys())
    listed = [info for info in items if known[info.id] is info]
    return listed + [ItemInfo(id=item, kind=UNKNOWN_KIND) for item in unknown]


def _histories(attempts: Sequence[Attempt]) -> dict[str, _History]:
    by_student: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_student[attempt.student].append(attempt)
    return {student: _history(own) for student, own in sorted(by_student.items())}


def _history(own: list[Attempt]) -> _History:
    ordered = sorted(own, key=lambda a: a.attempt)  # stable: a repeated number keeps input order
    passed = [a.attempt for a in ordered if a.correct]
    return _History(ordered[0], passed[0] if passed else None, max(a.score for a in own))


def _item(
    info: ItemInfo, attempts: list[Attempt], histories: dict[str, _History], best: Best
) -> ItemStats:
    n = len(histories)
    durations = [a.duration_s for a in attempts]
    stats = ItemStats(
        id=info.id,
        kind=info.kind,
        students=n,
        attempts=len(attempts),
        facility_first=share(sum(h.first.correct for h in histories.values()), n),
        facility_final=share(sum(h.passed_at is not None for h in histories.values()), n),
        discrimination=_discrimination(info.id, histories, best),
        options=_options(info, histories, best) if info.kind == "mcq" else [],
        check_failure_rates=check_failure_rates(attempts) if info.kind == "code" else {},
        median_attempts_to_pass=_median_attempts_to_pass(histories),
        duration_p50=nearest_rank(durations, 50),
        duration_p95=nearest_rank(durations, 95),
    )
    return replace(stats, flags=flags(stats, info))


def share(count: int, total: int) -> float | None:
    """`count` of `total`; None of nobody, which is not the same as none of somebody."""
    return count / total if total else None


def _discrimination(item: str, histories: dict[str, _History], best: Best) -> float | None:
    """Correctness in the end against the score on every other item (an item never attempted
    counts 0): does the item agree with the rest of the work about who is strong?"""
    correct = [h.passed_at is not None for h in histories.values()]
    rest = [math.fsum(v for k, v in best[s].items() if k != item) for s in histories]
    return point_biserial(correct, rest)


def point_biserial(correct: Sequence[bool], scores: Sequence[float]) -> float | None:
    """r_pb = (M1 - M0) / s * sqrt(p q), s the population standard deviation of `scores`. None
    where it is undefined: under two students, everyone or no one correct, all scores equal."""
    n = len(correct)
    right = sum(correct)
    if n < MIN_STUDENTS_FOR_DISCRIMINATION or right in (0, n):
        return None
    spread = statistics.pstdev(scores)  # exact for equal scores: 0.0, not a rounding residue
    if spread == 0:
        return None
    m1 = statistics.fmean(x for c, x in zip(correct, scores, strict=True) if c)
    m0 = statistics.fmean(x for c, x in zip(correct, scores, strict=True) if not c)
    p = right / n
    return (m1 - m0) / spread * math.sqrt(p * (1 - p))


def _options(info: ItemInfo, histories: dict[str, _History], best: Best) -> list[OptionStats]:
    first: dict[str, str] = {
        s: h.first.choice
        for s, h in histories.items()
        if h.first.choice is not None and h.first.choice in info.letters
    }
    groups = _groups(list(histories), best)
    strong, weak = groups if groups else (None, None)
    return [
        OptionStats(
            letter=letter,
            picked=sum(choice == letter for choice in first.values()),
            share=_picked_share(letter, first, list(histories)),
            correct=letter == info.answer,
            picked_by_strong=_picked_share(letter, first, strong),
            picked_by_weak=_picked_share(letter, first, weak),
        )
        for letter in info.letters
    ]


def _groups(students: list[str], best: Best) -> tuple[list[str], list[str]] | None:
    """The strongest and the weakest ceil(27%) of the item's students by total score (this item
    included); ties go by student id, so the same data always gives the same groups."""
    n = len(students)
    if n < MIN_STUDENTS_FOR_GROUPS:
        return None
    # ceil in integers: in floats 900 * 0.27 is 243.00000000000003, which would make 244
    size = -(-n * GROUP_PERCENT // 100)
    ranked = sorted(students, key=lambda s: (math.fsum(best[s].values()), s))
    return ranked[-size:], ranked[:size]


def _picked_share(letter: str, first: dict[str, str], among: list[str] | None) -> float | None:
    if among is None:
        return None
    chose = [first[s] for s in among if s in first]
    return share(sum(choice == letter for choice in chose), len(chose))


def check_failure_rates(attempts: Sequence[Attempt]) -> dict[str, float]:
    """Per check, in first-seen order: the share of ALL the item's graded attempts whose report
    listed the check as failed. An attempt whose report lacks the check (it stopped early, or the
    check was added later) counts as not failing it: the rate is of the item's work, not of the
    check's runs. A name in `failed_checks` counts as listed even when `checks` omits it."""
    failed: dict[str, int] = {}
    for attempt in attempts:
        for name in (*attempt.checks, *attempt.failed_checks):
            failed.setdefault(name, 0)
        for name in set(attempt.failed_checks):
            failed[name] += 1
    return {name: count / len(attempts) for name, count in failed.items()}


def _median_attempts_to_pass(histories: dict[str, _History]) -> float | None:
    passed = [h.passed_at for h in histories.values() if h.passed_at is not None]
    return float(statistics.median(passed)) if passed else None


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The value at rank ceil(percent% of n) in sorted order: always one of the values."""
    if not values:
        return None
    rank = max(1, -(-len(values) * percent // 100))
    return sorted(values)[rank - 1]


def flags(stats: ItemStats, info: ItemInfo) -> list[Flag]:
    """Every rule's flags on one item, in the order the rules are listed."""
    return [
        *_discrimination_flags(stats),
        *_facility_flags(stats),
        *_unpicked_flags(stats, info),
        *_strong_pick_flags(stats, info),
    ]


def _discrimination_flags(stats: ItemStats) -> list[Flag]:
    d = stats.discrimination
    if d is None or d >= 0:
        return []
    why = "students who do well elsewhere get it wrong; check the key"
    return [Flag(stats.id, "negative-discrimination", f"{stats.id}: discrimination {d:.2f}: {why}")]


def _facility_flags(stats: ItemStats) -> list[Flag]:
    f = stats.facility_first
    if f is not None and f < TOO_HARD_BELOW:
        why = "check the wording, the key and what was taught"
        message = f"{stats.id}: {percent(f)} right at the first attempt; {why}"
        return [Flag(stats.id, "too-hard", message)]
    if f is not None and f > TOO_EASY_ABOVE:
        why = "it tells students apart little"
        message = f"{stats.id}: {percent(f)} right at the first attempt; {why}"
        return [Flag(stats.id, "too-easy", message)]
    return []


def _distractors(stats: ItemStats, info: ItemInfo) -> list[OptionStats]:
    """The wrong options; none while the key is unknown (a distractor cannot be told apart)."""
    return [o for o in stats.options if info.answer is not None and not o.correct]


def _unpicked_flags(stats: ItemStats, info: ItemInfo) -> list[Flag]:
    chose = sum(o.picked for o in stats.options)
    if chose < MIN_STUDENTS_FOR_DISTRACTORS:
        return []
    why = "it distracts nobody: make it plausible or drop it"
    return [
        Flag(
            stats.id,
            "unpicked-distractor",
            f"{stats.id}: nobody of {chose} chose {o.letter}; {why}",
        )
        for o in _distractors(stats, info)
        if o.picked == 0
    ]


def _strong_pick_flags(stats: ItemStats, info: ItemInfo) -> list[Flag]:
    found = []
    for o in _distractors(stats, info):
        if o.picked_by_strong is None or o.picked_by_weak is None:
            continue
        if o.picked_by_strong > o.picked_by_weak:
            drew = f"{percent(o.picked_by_strong)} of the strongest students"
            but = f"{percent(o.picked_by_weak)} of the weakest"
            why = f"check that {o.letter} is really wrong and the wording does not mislead"
            message = f"{stats.id}: {o.letter} drew {drew} but {but}; {why}"
            found.append(Flag(stats.id, "strong-pick-distractor", message))
    return found


def percent(value: float | None) -> str:
    """A share as a whole percentage, or the mark of a missing statistic."""
    return MISSING if value is None else f"{value * 100:.0f}%"


def number(value: float | None, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def figures(item: ItemStats) -> tuple[str, ...]:
    """An item's numbers as the text table and the page both show them: students, attempts,
    facility first and final, discrimination, grading time p50 and p95."""
    return (
        str(item.students),
        str(item.attempts),
        percent(item.facility_first),
        percent(item.facility_final),
        number(item.discrimination, 2),
        number(item.duration_p50, 1),
        number(item.duration_p95, 1),
    )
