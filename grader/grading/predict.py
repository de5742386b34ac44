"""Predict items: the key is what the snippet prints; answers are compared after normalising,
so `torch.Size([8, 1000])`, `[8, 1000]`, `(8, 1000)` and `8x1000` agree for shapes.

Every spelling of a shape names the same dimensions, so each is graded as that shape (a shape
cannot be a wrong value in disguise); one Python does not print comes with a note on how it
does. An answer that does not read as a shape at all, or a number with thousands separators for
text Python prints without them, is graded as written and, when wrong, gets a hint on the format
built from the student's own answer.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from grader.errors import BadAnswer, SnippetFailed
from grader.grading.checks import normalise
from grader.grading.snippets import run_snippet
from grader.models import CheckResult, PredictItem, Report, Status, Verdict
from grader.probe.plan import limits_for
from grader.probe.summaries import describe_error
from sandbox.base import Sandbox

INTS = re.compile(r"-?\d+")
SIZE = re.compile(r"^(?:torch\.)?Size(?=\()")
#: A shape as Python spells it, or as a list or tuple: `torch.Size([8, 1000])`, `[8, 1000]`.
BRACKETED = re.compile(r"[\s\[\]\(\),\d-]*")
#: A shape as people write it: `8x1000`, `8 × 1000`, `8*1000`.
MULTIPLIED = re.compile(r"\d+(?:\s*[x×X*]\s*\d+)+")
#: An integer with thousands separators: `2,565`, `11 176 512`.
SEPARATED = re.compile(r"\d{1,3}(?:([, _])\d{3})(?:\1\d{3})*")
SHAPE_FORMAT = "write a shape as Python prints it, e.g. torch.Size([2, 3]), or as [2, 3]"


def computed_key(item: PredictItem, sandbox: Sandbox, cache: Path | None = None) -> str:
    """What the snippet prints; `SnippetFailed` if it raises (the item is broken)."""
    observation = run_snippet(sandbox, item.snippet, limits_for(item), cache)
    if "error" in observation:
        raise SnippetFailed(f"{item.id}: the snippet raised {describe_error(observation['error'])}")
    return str(observation.get("stdout", "")).strip()


def canonical(item: PredictItem, text: str) -> str:
    """Shapes as `(8, 1000)` whatever the spelling; text with whitespace normalised."""
    if item.answer_type == "shape":
        dimensions = shape_dimensions(text)
        return normalise(text) if dimensions is None else f"({', '.join(dimensions)})"
    return normalise(text)


def shape_dimensions(text: str) -> list[str] | None:
    """The dimensions a shape answer names, or None when it does not read as a shape."""
    inner = SIZE.sub("", text.strip(), count=1)
    if BRACKETED.fullmatch(inner) or MULTIPLIED.fullmatch(inner.strip()):
        return INTS.findall(inner)
    return None


def format_note(item: PredictItem, raw: str) -> str | None:
    """How Python writes what the student wrote in a near-miss format; None when it is written
    as Python prints it (or when no near miss is recognised)."""
    text = raw.strip()
    if item.answer_type == "shape":
        if MULTIPLIED.fullmatch(text):
            return f"Python prints this shape as torch.Size([{', '.join(INTS.findall(text))}])"
        return None if shape_dimensions(text) is not None else SHAPE_FORMAT
    if SEPARATED.fullmatch(text):
        return f"Python prints integers without separators: {re.sub(r'[, _]', '', text)}"
    return None


def grade_prediction(
    item: PredictItem, raw: str, sandbox: Sandbox, cache: Path | None = None
) -> Report:
    started = time.perf_counter()
    if not raw.strip():
        raise BadAnswer(f"empty answer to {item.id!r}; type what the snippet prints")
    key = canonical(item, computed_key(item, sandbox, cache))
    answer = canonical(item, raw)
    right = answer == key
    note = format_note(item, raw)
    message = f"You predicted {answer}; the snippet prints {key}."
    check = CheckResult(
        name="prediction",
        passed=right,
        score=item.points if right else 0.0,
        max_score=item.points,
        observed=answer,
        expected=key,
        message=f"{message} {note}." if right and note else message,
        hint=None if right else note,
    )
    return Report(
        question=item.id,
        status=Status.PASSED if right else Status.FAILED,
        verdict=Verdict.PASSED if right else Verdict.WRONG_ANSWER,
        score=check.score,
        max_score=check.max_score,
        checks=[check],
        duration_s=round(time.perf_counter() - started, 3),
        backend=sandbox.name,
        explanation=item.explanation,
    )
