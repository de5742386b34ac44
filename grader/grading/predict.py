"""Predict items: the key is what the snippet prints; answers are compared after normalising,
so `torch.Size([8, 1000])`, `[8, 1000]` and `(8, 1000)` agree for shapes."""

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


def computed_key(item: PredictItem, sandbox: Sandbox, cache: Path | None = None) -> str:
    """What the snippet prints; `SnippetFailed` if it raises (the item is broken)."""
    observation = run_snippet(sandbox, item.snippet, limits_for(item), cache)
    if "error" in observation:
        raise SnippetFailed(f"{item.id}: the snippet raised {describe_error(observation['error'])}")
    return str(observation.get("stdout", "")).strip()


def canonical(item: PredictItem, text: str) -> str:
    """Shapes as `(8, 1000)` whatever the spelling; text with whitespace normalised."""
    if item.answer_type == "shape":
        inner = text.strip().removeprefix("torch.Size")
        if not re.fullmatch(r"[\s\[\]\(\),\d-]*", inner):
            return normalise(text)
        return "(" + ", ".join(INTS.findall(inner)) + ")"
    return normalise(text)


def grade_prediction(
    item: PredictItem, raw: str, sandbox: Sandbox, cache: Path | None = None
) -> Report:
    started = time.perf_counter()
    if not raw.strip():
        raise BadAnswer(f"empty answer to {item.id!r}; type what the snippet prints")
    key = canonical(item, computed_key(item, sandbox, cache))
    answer = canonical(item, raw)
    right = answer == key
    check = CheckResult(
        name="prediction",
        passed=right,
        score=item.points if right else 0.0,
        max_score=item.points,
        observed=answer,
        expected=key,
        message=f"You predicted {answer}; the snippet prints {key}.",
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
