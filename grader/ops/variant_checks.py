"""The self-test's part for items that vary: which variants it proves, each rendered twice, and
whether the variants differ at all.

A variant is proven on what it renders to. Rendering it twice must give the same item: a key (or
a prompt) that comes out differently each time would be graded against another key than the one
the student's prompt asked for. And an item whose seeds all show students the same view has a
param that changes only what they cannot see (its key, its explanation): every student would
read the same question and be graded against a different answer.

Two seeds may draw the same values (a class count of 3..20 repeats within 20 seeds): a variant
that renders to the very item an earlier one did is its `twin`, and the self-test reuses the
earlier one's results rather than grading the same item twice.

Rendering runs nothing in a sandbox: the whole of this module costs milliseconds per variant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from grader.errors import BadVariant
from grader.models import Item
from grader.models.items import FixedAlias
from grader.variants import materialise
from grader.variants.params import fixed_values

#: Seeds whose views the variation check compares, at least: rendering is cheap, and a few
#: seeds of a param with two values may all draw the same one.
VARY_SEEDS = 20


@dataclass(frozen=True)
class Rendered:
    """One variant to prove: `label` names it (`seed=3`, or a fixed alias's id); `item` is it,
    rendered the same twice, or None and `problem` says why not; `twin` labels an earlier
    variant that rendered to the same item ("" when none did)."""

    label: str
    item: Item | None
    problem: str = ""
    twin: str = ""


def variants_of(item: Item, count: int) -> Iterator[Rendered]:
    """The variants of seeds 0..count-1, then each fixed alias's."""
    seen: dict[str, str] = {}
    for label, seed, values in _labels(item, count):
        rendered = _twice(item, label, seed, values)
        if rendered.item is not None:
            first = seen.setdefault(_identity(rendered.item), label)
            yield rendered if first == label else replace(rendered, twin=first)
        else:
            yield rendered


def _labels(item: Item, count: int) -> Iterator[tuple[str, int | None, dict[str, Any] | None]]:
    for seed in range(count):
        yield f"seed={seed}", seed, None
    for alias in item.aliases:
        if isinstance(alias, FixedAlias):
            yield alias.id, None, fixed_values(item.params, alias.params)


def _identity(item: Item) -> str:
    """What makes two variants the same item: everything rendered, and the options' order."""
    shown = item.variant.choices if item.variant is not None else None
    return json.dumps([item.model_dump(mode="json"), shown], sort_keys=True, default=str)


def _twice(item: Item, label: str, seed: int | None, values: dict[str, Any] | None) -> Rendered:
    try:
        first = materialise(item, seed, values)
        second = materialise(item, seed, values)
    except BadVariant as exc:
        return Rendered(label, None, f"does not render: {exc}")
    difference = _difference(_dump(first), _dump(second))
    if difference:
        return Rendered(label, None, f"renders differently each time: {difference}")
    return Rendered(label, first)


def _dump(item: Item) -> dict[str, Any]:
    variant = item.variant.to_json() if item.variant is not None else None
    return item.model_dump(mode="json") | {"variant": variant}


def _difference(first: Any, second: Any, loc: str = "") -> str:
    """Where two renderings differ (`answer: 0.25 then 0.5`), "" when they do not."""
    if isinstance(first, dict) and isinstance(second, dict) and first.keys() == second.keys():
        for key in first:
            found = _difference(first[key], second[key], f"{loc}.{key}" if loc else str(key))
            if found:
                return found
        return ""
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        for index, (one, other) in enumerate(zip(first, second, strict=True)):
            found = _difference(one, other, f"{loc}.{index}" if loc else str(index))
            if found:
                return found
        return ""
    if first == second:
        return ""
    return f"{loc or 'the item'}: {_short(first)} then {_short(second)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def variation(item: Item, count: int) -> tuple[bool, str]:
    """Whether students see different variants: at least two different public views (the
    seed aside) among seeds 0..max(count, VARY_SEEDS)-1."""
    seeds = max(count, VARY_SEEDS)
    views: set[str] = set()
    for seed in range(seeds):
        try:
            view = materialise(item, seed).public()
        except BadVariant:
            continue  # its own row says so
        view.pop("seed", None)
        views.add(json.dumps(view, sort_keys=True))
    if len(views) >= 2:
        return True, f"{len(views)} different views over {seeds} seeds"
    return False, (
        f"does not vary over {seeds} seeds: every student would see the same question; "
        "make the params change what the prompt (or its options) shows"
    )
