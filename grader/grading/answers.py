"""Grade the answers that need no sandbox: a letter for an mcq, a number for a numeric item.

A number in a near-miss format (`85` where the key is a fraction, `0.85%`) is graded as the
number it is, never rescaled: an item does not say what its quantity is, so 85 may be a wrong
value rather than a percentage. A wrong answer in such a format gets a hint on the format, made
from the student's own number and shown whatever that number would have been worth, so the hint
says nothing about the key beyond the range the prompt gives.
"""

from __future__ import annotations

import math
import re
import time
from string import ascii_uppercase

from grader.errors import BadAnswer, GraderError
from grader.models import CheckResult, McqItem, NumericItem, Report, Status, Verdict

BACKEND = "host"


def grade_answer(item: McqItem | NumericItem, raw: str) -> Report:
    """Grade a student's answer to an mcq or numeric item; `BadAnswer` if it cannot be read."""
    started = time.perf_counter()
    if isinstance(item, McqItem):
        check = _check_choice(item, parse_choice(item, raw))
    else:
        check = _check_number(item, parse_number(item, raw), raw)
    return _report(item, check, time.perf_counter() - started)


#: A letter as students decorate it, copying the options' own format: `(B)`, `B)`, `B.`, `b:`.
DECORATED = re.compile(r"\(([A-Za-z])\)|([A-Za-z])[).:]?")


def choice_letter(raw: str) -> str | None:
    """The letter a choice names, upper-case, alone or decorated as `(B)`, `B)`, `B.` or `B:`;
    None for anything else (graded and counted the same: `grader.service.course_stats`)."""
    found = DECORATED.fullmatch(raw.strip())
    return (found[1] or found[2]).upper() if found else None


def parse_choice(item: McqItem, raw: str) -> str:
    """The letter as shown by `grader show`, case-insensitive, alone or decorated."""
    letter = choice_letter(raw)
    if letter is not None and len(letter) == 1 and letter in item.letters:
        return letter
    span = f"{item.letters[0]}-{item.letters[-1]}"
    raise BadAnswer(
        f"choice {raw!r} is not one of {span} for {item.id!r}; answer with one letter, "
        f"as `grader show {item.id}` lists them"
    )


def parse_number(item: NumericItem, raw: str) -> float:
    """A decimal number; `85%` is read as 0.85."""
    text = raw.strip().replace("_", "")
    scale = 100.0 if text.endswith("%") else 1.0
    try:
        value = float(text.removesuffix("%")) / scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BadAnswer(f"answer {raw!r} to {item.id!r} is not a number; {_how_to_write(text)}")
    return value


def _how_to_write(text: str) -> str:
    if "," in text:  # 0,85 (a decimal comma) or 1,000 (a thousands separator)
        return "write decimals with a point (0.85), without thousands separators, or as 85%"
    return "give e.g. 0.85 or 85%"


def percent_hint(raw: str, value: float, key: float) -> str | None:
    """A hint when a fraction seems to be written as a percentage without its sign (`85` for a
    key between 0 and 1) or with a sign it does not need (`0.85%`); None otherwise."""
    text = raw.strip().replace("_", "")
    if abs(key) > 1:
        return None
    if text.endswith("%") and 0 < abs(value) < 0.01:
        number = text.removesuffix("%").strip()
        return (
            f"{number}% is {value:g}; if you meant the fraction {number}, write {number} "
            f"(or {float(number) * 100:g}%)"
        )
    if not text.endswith("%") and 1 < abs(value) <= 100:
        return (
            f"{text} looks like a percentage: write it with its sign ({text}%) or as a "
            f"fraction ({value / 100:g})"
        )
    return None


def _check_choice(item: McqItem, letter: str) -> CheckResult:
    index = ascii_uppercase.index(letter)
    chosen = item.choices[index]
    right = letter == item.answer
    return CheckResult(
        name="answer",
        passed=right,
        score=item.points if right else 0.0,
        max_score=item.points,
        message=_chose(item, letter, index) + (chosen.feedback or ""),
        observed=letter,
        expected=item.answer,
    )


def _chose(item: McqItem, letter: str, index: int) -> str:
    """For shuffled options, which option the letter was (letters differ between students; the
    option's id does not): "You chose C (option id: frozen-layers). "."""
    shown = item.variant.choices if item.variant is not None else None
    if not shown:
        return ""
    return f"You chose {letter} (option id: {shown[index]}). "


def _check_number(item: NumericItem, value: float, raw: str) -> CheckResult:
    key, tolerance = item.answer, item.tolerance
    if key is None or tolerance is None:  # a student item: `Grader.grade` never sends one here
        raise GraderError(f"{item.id!r} has no key here; the course server grades it")
    right = tolerance.accepts(key, value)
    margin = tolerance.absolute
    allowed = f"±{margin:g}" if margin is not None else f"±{(tolerance.relative or 0):.2%}"
    verdict = "within" if right else "outside"
    return CheckResult(
        name="answer",
        passed=right,
        score=item.points if right else 0.0,
        max_score=item.points,
        message=f"{value:g} is {verdict} the accepted range ({key:g} {allowed}).",
        hint=None if right else percent_hint(raw, value, key),
        observed=f"{value:g}",
        expected=f"{key:g}",
    )


def _report(item: McqItem | NumericItem, check: CheckResult, duration: float) -> Report:
    return Report(
        question=item.id,
        status=Status.PASSED if check.passed else Status.FAILED,
        verdict=Verdict.PASSED if check.passed else Verdict.WRONG_ANSWER,
        score=check.score,
        max_score=check.max_score,
        checks=[check],
        duration_s=round(duration, 6),
        backend=BACKEND,
        explanation=item.explanation,
    )
