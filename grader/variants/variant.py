"""`Variant`: which variant of a parameterised item an item is. A module of its own, importing
nothing, so the item models can name it without importing what renders variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    """Which variant an item is: its seed (None for a fixed variant), the values its templates
    were rendered with, for a shuffled mcq the stable ids of its options in the order shown
    (an option's `id`, else its letter in file order), and for a fixed variant the former id
    that names it (what a student answers it by)."""

    seed: int | None
    values: dict[str, Any] = field(default_factory=dict)
    choices: list[str] | None = None
    alias: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "values": self.values,
            "choices": self.choices,
            "alias": self.alias,
        }
