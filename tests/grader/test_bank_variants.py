"""The shipped bank's confusion-matrix items as students get them: on every seed tried, the key is
the metric of the matrix the prompt shows (read back from the rendered table, not from the drawn
values), and both ways of rounding it to 3 decimals are accepted, also when it lies exactly
halfway between two 3-decimal numbers."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction

import pytest

from grader.bank import load_bank
from grader.grading.answers import grade_answer
from grader.models import NumericItem
from sandbox.settings import REPO_ROOT

BANK = load_bank([REPO_ROOT / "questions"])
SEEDS = range(1500)
Cells = dict[str, int]
METRICS: dict[str, Callable[[Cells], Fraction]] = {
    "confusion-precision": lambda c: Fraction(c["tp"], c["tp"] + c["fp"]),
    "confusion-recall": lambda c: Fraction(c["tp"], c["tp"] + c["fn"]),
    "confusion-f1": lambda c: Fraction(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
    "confusion-accuracy": lambda c: Fraction(c["tp"] + c["tn"], sum(c.values())),
}
HEADER = re.compile(r"^\| \| predicted (\S+) \| predicted (\S+) \|$", re.MULTILINE)
ROW = re.compile(r"^\| \*\*actual (\S+)\*\* \| (\d+) \| (\d+) \|$", re.MULTILINE)
POSITIVE = re.compile(r"The positive class is \*\*(\S+)\*\*")


def shown_cells(prompt: str) -> Cells:
    """TP, FP, FN and TN as a student reads them off the prompt's table."""
    header, positive = HEADER.search(prompt), POSITIVE.search(prompt)
    assert header and positive, prompt
    columns = header.groups()
    table = {
        (actual, predicted): int(count)
        for actual, *counts in ROW.findall(prompt)
        for predicted, count in zip(columns, counts, strict=True)
    }
    assert len(table) == 4, prompt
    pos = positive[1]
    neg = next(name for name in columns if name != pos)
    return {
        "tp": table[pos, pos],
        "fp": table[neg, pos],
        "fn": table[pos, neg],
        "tn": table[neg, neg],
    }


def roundings(exact: Fraction) -> set[float]:
    """The value to 3 decimals as a student may round it: the nearest, or when it lies exactly
    halfway, either neighbour (half up, half to even, and a float that is a hair off the half
    disagree there)."""
    scaled = exact * 1000
    if scaled.denominator == 2:
        return {math.floor(scaled) / 1000, math.ceil(scaled) / 1000}
    return {round(scaled) / 1000}


@pytest.mark.parametrize("item_id", sorted(METRICS))
def test_the_key_is_the_metric_of_the_matrix_shown(item_id: str) -> None:
    halfway = 0
    for seed in SEEDS:
        item = BANK.variant(item_id, seed)
        assert isinstance(item, NumericItem) and item.answer is not None
        exact = METRICS[item_id](shown_cells(item.prompt))
        accepted = roundings(exact)
        halfway += len(accepted) == 2
        for answer in accepted:
            assert grade_answer(item, repr(answer)).passed, (seed, answer, item.answer)
        assert not grade_answer(item, repr(max(accepted) + 0.001)).passed, seed
        assert not grade_answer(item, repr(min(accepted) - 0.001)).passed, seed
    assert halfway > 0, "no seed drew a value exactly halfway: widen SEEDS"


@pytest.mark.parametrize("item_id", sorted(METRICS))
def test_the_fixed_variants_show_their_own_matrix(item_id: str) -> None:
    """Each former id's table gives back its key, as the variants drawn do."""
    aliases = [a for a in BANK.items[item_id].aliases if not isinstance(a, str)]
    assert aliases
    for alias in aliases:
        item = BANK.variant(alias.id, None)
        assert isinstance(item, NumericItem) and item.answer is not None
        assert item.answer in roundings(METRICS[item_id](shown_cells(item.prompt)))
