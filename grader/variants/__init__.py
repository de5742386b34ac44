"""Variants: one item, its numbers, shapes and option order drawn per student.

An item with `params:` (or an mcq with `shuffle: true`) is a template: the bank keeps its plain
document (`Item._source`) and stores the variant of seed 0. `materialise(item, seed)` renders the
document with that seed's values (grader/variants/params.py), validates it as an item of its
kind, and orders a shuffled item's options (grader/variants/shuffle.py), mapping its key to the
letters shown. A fixed variant (an alias `{id: old-id, params: {...}}`) is rendered with the
values given and no seed: it never varies.

    params.py     the param specs and the draw
    templates.py  the sandboxed Jinja2 rendering (imported on first render, never at start-up)
    shuffle.py    the order of a shuffled item's options
    seeds.py      whose seed is whose: per student on the course server, per machine locally
    variant.py    `Variant`: which variant an item is (the item models read it)

This module imports only the standard library: the item models import the package.
"""

from __future__ import annotations

from string import ascii_uppercase
from typing import TYPE_CHECKING, Any

from grader.variants.variant import Variant

if TYPE_CHECKING:
    from grader.models import Item, McqItem

__all__ = ["Variant", "materialise", "render_item"]


def materialise(item: Item, seed: int | None, values: dict[str, Any] | None = None) -> Item:
    """`item`'s variant for `seed` (values drawn for it), or the fixed variant of `values`
    (seed None). An item without a template is returned as it is. `BadVariant` when the
    template renders to no valid item."""
    source = item._source
    if source is None:
        return item
    if values is None:
        if seed is None:
            raise ValueError("a fixed variant needs its values")
        from grader.variants.params import draw

        values = draw(item.params, item.id, seed)
    rendered = render_item(source, values)
    shown = _order(rendered, seed)
    ids = _stable_ids(rendered) if shown is not None else None
    if shown is not None and ids is not None:
        rendered = _reordered(rendered, shown)
        ids = [ids[index] for index in shown]
    rendered._source = source
    rendered._variant = Variant(seed, dict(values), ids)
    return rendered


def render_item(source: dict[str, Any], values: dict[str, Any]) -> Item:
    """The document rendered with `values` and validated as its kind, options in file order;
    `BadVariant` (`RenderError` for a template that fails) when it is no valid item."""
    from pydantic import ValidationError

    from grader.errors import BadVariant
    from grader.models.registry import item_model
    from grader.variants.templates import render_document

    document = render_document(source, values)
    try:
        item: Item = item_model(str(source["kind"])).model_validate(document)  # type: ignore[assignment]
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"]))
        raise BadVariant(f"{source.get('id')}: {where}: {error['msg']} {_with(values)}") from exc
    problems = item.problems()
    if problems:
        loc, message = problems[0]
        where = ".".join(map(str, loc))
        raise BadVariant(f"{item.id}: {where}: {message} {_with(values)}")
    return item


def _with(values: dict[str, Any]) -> str:
    shown = ", ".join(f"{name}={value!r}" for name, value in values.items())
    return f"(in the variant with {shown or 'no params'}; run `grader selftest`)"


def _order(item: Item, seed: int | None) -> list[int] | None:
    """The shown order of a shuffled mcq's options (file order for a fixed variant); None for
    an item that does not shuffle."""
    from grader.models import McqItem
    from grader.variants.shuffle import order

    if not isinstance(item, McqItem) or not item.shuffle:
        return None
    if seed is None:
        return list(range(len(item.choices)))
    return order(item.id, seed, item.choices)


def _stable_ids(item: Item) -> list[str] | None:
    choices = getattr(item, "choices", None)
    if choices is None:
        return None
    return [choice.id or ascii_uppercase[index] for index, choice in enumerate(choices)]


def _reordered(item: Item, shown: list[int]) -> Item:
    """The mcq with its options in `shown` order, its key and `verify.proves` the letters
    they now have (authors write them as file-order letters)."""
    mcq: McqItem = item  # type: ignore[assignment]

    def moved(letter: str | None) -> str | None:
        if letter is None:
            return None
        return ascii_uppercase[shown.index(ascii_uppercase.index(letter))]

    update: dict[str, Any] = {"choices": [mcq.choices[index] for index in shown]}
    if mcq.answer is not None:  # a student item has none
        update["answer"] = moved(mcq.answer)
    if mcq.verify is not None:
        update["verify"] = mcq.verify.model_copy(update={"proves": moved(mcq.verify.proves)})
    return mcq.model_copy(update=update)
