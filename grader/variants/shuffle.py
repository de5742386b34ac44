"""The order a shuffled mcq item's options are shown in, per variant.

The order is drawn from its own generator (seeded by the item, the seed and "shuffle"), apart from
the params' draw, so adding `shuffle: true` to an item leaves its drawn values as they were. A
`fixed` option ("none of the above") keeps its file position; the others move among the rest.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def order(item_id: str, seed: int, choices: Sequence[Any]) -> list[int]:
    """The choices' file indexes in the order shown for `seed`; each choice is a model or a
    mapping with an optional `fixed`."""
    fixed = [_is_fixed(choice) for choice in choices]
    moving = [index for index, pinned in enumerate(fixed) if not pinned]
    random.Random(f"{item_id}/{seed}/shuffle").shuffle(moving)
    drawn = iter(moving)
    return [index if pinned else next(drawn) for index, pinned in enumerate(fixed)]


def _is_fixed(choice: Any) -> bool:
    if isinstance(choice, dict):
        return choice.get("fixed") is True
    return bool(getattr(choice, "fixed", False))
