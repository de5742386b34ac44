"""An item's `params:`: what each value is drawn from, and the draw itself.

Each param names exactly one generator (`int`, `float`, `choice`, `shape`, `image_size`,
`confusion`, `class_count`); `draw` gives every param a value from one `random.Random` seeded by
the item's id and the seed, in the order the params are declared, so the same (item, seed) always
gives the same values, on every machine and Python (a `str` seed is hashed with SHA-512).

A param's name (`ParamName`) is what templates read it by: lower-case, and neither a Jinja2
keyword nor a name templates already have (`range`, `loop`, ...).

A fixed variant (an alias `{id: old-id, params: {...}}`) names every value instead: `fixed_values`
checks them against the generators' types, not their ranges (an old item's numbers may lie
outside the range its new form draws from).

This module needs pydantic only: the item models import it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

#: The generators, in the order the schema and the messages list them.
GENERATORS = ("int", "float", "choice", "shape", "image_size", "confusion", "class_count")
#: The cells of a confusion matrix, as a template reads them (`cm.tp`); `total` is their sum.
CELLS = ("tp", "fp", "fn", "tn")
Scalar = str | int | float | bool
PARAM_NAME = r"^[a-z][a-z0-9_]*$"
#: Names a param cannot have: Jinja2's keywords and the names its templates already hold.
RESERVED = frozenset(
    "and or not in is if else elif endif for endfor true false none block endblock extends "
    "include import from as with without endwith set endset macro endmacro call endcall filter "
    "endfilter raw endraw recursive ignore missing context scoped required autoescape "
    "endautoescape range dict lipsum cycler joiner namespace loop self super caller varargs "
    "kwargs".split()
)


class _Spec(BaseModel):
    """A param's spec: unknown keys are errors, and the value drawn is `draw(rng)`'s."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
    GENERATOR: ClassVar[str]

    def draw(self, rng: random.Random) -> Any:
        raise NotImplementedError

    def fixed(self, value: Any) -> Any:
        """A value an author fixed for this param, as a template reads it; `ValueError` (with
        what to write) when it is not one this generator could give."""
        raise NotImplementedError


def _range(low: float, high: float) -> None:
    if low > high:
        raise ValueError(f"the range [{low}, {high}] is empty; write it [low, high]")


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"give {what} as a whole number (got {value!r})")
    return value


class IntParam(_Spec):
    """A whole number from an inclusive range, in steps of `step`."""

    GENERATOR: ClassVar[str] = "int"
    int_: tuple[int, int] = Field(alias="int", description="Inclusive range [low, high].")
    step: int = Field(default=1, ge=1, description="Only low, low + step, ... are drawn.")

    @model_validator(mode="after")
    def _ordered(self) -> IntParam:
        _range(*self.int_)
        return self

    def draw(self, rng: random.Random) -> int:
        low, high = self.int_
        return low + self.step * rng.randint(0, (high - low) // self.step)

    def fixed(self, value: Any) -> int:
        return _whole(value, "an int param")


class FloatParam(_Spec):
    """A decimal from an inclusive range, on a grid of `step` (required, so values print as
    written: 0.1 + 0.2 is drawn as 0.3, never 0.30000000000000004)."""

    GENERATOR: ClassVar[str] = "float"
    float_: tuple[float, float] = Field(alias="float", description="Inclusive range [low, high].")
    step: float = Field(gt=0, description="The grid: values are low + k * step, rounded to it.")

    @model_validator(mode="after")
    def _ordered(self) -> FloatParam:
        _range(*self.float_)
        return self

    @property
    def decimals(self) -> int:
        exponent = Decimal(repr(self.step)).normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    def draw(self, rng: random.Random) -> float:
        low, high = self.float_
        steps = int((high - low) / self.step + 1e-9)
        return min(round(low + self.step * rng.randint(0, steps), self.decimals), high)

    def fixed(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"give a float param a number (got {value!r})")
        return float(value)


class ChoiceParam(_Spec):
    """One of the listed values (text, numbers or booleans)."""

    GENERATOR: ClassVar[str] = "choice"
    choice: list[Scalar] = Field(min_length=1, description="The values to draw from.")

    def draw(self, rng: random.Random) -> Scalar:
        return rng.choice(self.choice)

    def fixed(self, value: Any) -> Scalar:
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"give a choice param one text, number or boolean (got {value!r})")
        return value


class ShapeParam(_Spec):
    """A list of whole numbers, each from its own inclusive range (a tensor shape)."""

    GENERATOR: ClassVar[str] = "shape"
    shape: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]] = Field(
        min_length=1, max_length=8, description="One inclusive range [low, high] per dimension."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ShapeParam:
        for low, high in self.shape:
            _range(low, high)
        return self

    def draw(self, rng: random.Random) -> list[int]:
        return [rng.randint(low, high) for low, high in self.shape]

    def fixed(self, value: Any) -> list[int]:
        if not isinstance(value, list) or len(value) != len(self.shape):
            raise ValueError(f"give a shape param a list of {len(self.shape)} whole numbers")
        return [_whole(size, "each size") for size in value]


class ImageSizeParam(_Spec):
    """The side of a square image: a multiple of 32 within the range (what CNNs downsample)."""

    GENERATOR: ClassVar[str] = "image_size"
    MULTIPLE: ClassVar[int] = 32
    image_size: tuple[Annotated[int, Field(ge=1)], int] = Field(
        description="Inclusive range [low, high]; it must hold a multiple of 32."
    )

    @model_validator(mode="after")
    def _holds_one(self) -> ImageSizeParam:
        _range(*self.image_size)
        if self._first > self.image_size[1]:
            raise ValueError(f"the range {list(self.image_size)} holds no multiple of 32")
        return self

    @property
    def _first(self) -> int:
        return -(-self.image_size[0] // self.MULTIPLE) * self.MULTIPLE

    def draw(self, rng: random.Random) -> int:
        return rng.randrange(self._first, self.image_size[1] + 1, self.MULTIPLE)

    def fixed(self, value: Any) -> int:
        return _whole(value, "an image_size param")


class ConfusionSpec(_Spec):
    """How big the confusion matrix's sample is."""

    total: tuple[Annotated[int, Field(ge=4)], int] = Field(
        description="Inclusive range [low, high] of tp + fp + fn + tn; low at least 4."
    )
    accuracy: tuple[Annotated[float, Field(gt=0, lt=1)], Annotated[float, Field(gt=0, lt=1)]] = (
        Field(
            default=(0.6, 0.95),
            description="Range [low, high] the share of correct predictions (tp + tn) / total "
            "is drawn from, so a drawn model is as good as a course's examples; default "
            "[0.6, 0.95].",
        )
    )

    @model_validator(mode="after")
    def _ordered(self) -> ConfusionSpec:
        _range(*self.total)
        if self.accuracy[0] > self.accuracy[1]:
            raise ValueError(f"accuracy range {list(self.accuracy)} has low above high")
        return self


class ConfusionParam(_Spec):
    """A 2x2 confusion matrix, read as `cm.tp`, `cm.fp`, `cm.fn`, `cm.tn` and `cm.total`:
    every cell at least 1, so no row or column sums to 0 (precision, recall and F1 are defined)."""

    GENERATOR: ClassVar[str] = "confusion"
    confusion: ConfusionSpec = Field(description="The sample size: `{total: [low, high]}`.")

    def draw(self, rng: random.Random) -> dict[str, int]:
        total = rng.randint(*self.confusion.total)
        share = rng.uniform(*self.confusion.accuracy)
        # Right and wrong predictions each hold at least 2, so each splits into two cells >= 1.
        right = min(total - 2, max(2, round(total * share)))
        tp, fp = _split(rng, right), _split(rng, total - right)
        found = {"tp": tp, "tn": right - tp, "fp": fp, "fn": total - right - fp}
        return cells({cell: found[cell] for cell in CELLS})

    def fixed(self, value: Any) -> dict[str, int]:
        if not isinstance(value, Mapping) or set(value) != set(CELLS):
            raise ValueError("give a confusion param as a mapping {tp:, fp:, fn:, tn:}")
        given = {cell: _whole(value[cell], f"{cell}") for cell in CELLS}
        if min(given.values()) < 0:
            raise ValueError("a confusion matrix's cells are counts: none is negative")
        return cells(given)


def _split(rng: random.Random, count: int) -> int:
    """One part of `count` (at least 2) cut in two, each part between a fifth and four fifths of
    it where it is big enough, and at least 1: neither class is all but absent."""
    low = max(1, count // 5)
    return rng.randint(low, max(low, count - low))


def cells(given: Mapping[str, int]) -> dict[str, int]:
    """The four cells and their `total`, in the order templates list them."""
    return {cell: given[cell] for cell in CELLS} | {"total": sum(given[c] for c in CELLS)}


class ClassCountParam(_Spec):
    """A number of classes: a whole number of at least 2."""

    GENERATOR: ClassVar[str] = "class_count"
    class_count: tuple[Annotated[int, Field(ge=2)], int] = Field(
        description="Inclusive range [low, high]; low at least 2."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ClassCountParam:
        _range(*self.class_count)
        return self

    def draw(self, rng: random.Random) -> int:
        return rng.randint(*self.class_count)

    def fixed(self, value: Any) -> int:
        count = _whole(value, "a class_count param")
        if count < 2:
            raise ValueError(f"a class count is at least 2 (got {count})")
        return count


def _generator(value: Any) -> str | None:
    """Which generator a param names: its one key besides `step` (None when not exactly one)."""
    if isinstance(value, _Spec):
        return value.GENERATOR
    if not isinstance(value, Mapping):
        return None
    keys = [str(key).rstrip("_") for key in value if key != "step"]
    return keys[0] if len(keys) == 1 else None


ParamSpec = Annotated[
    Annotated[IntParam, Tag("int")]
    | Annotated[FloatParam, Tag("float")]
    | Annotated[ChoiceParam, Tag("choice")]
    | Annotated[ShapeParam, Tag("shape")]
    | Annotated[ImageSizeParam, Tag("image_size")]
    | Annotated[ConfusionParam, Tag("confusion")]
    | Annotated[ClassCountParam, Tag("class_count")],
    Discriminator(
        _generator,
        custom_error_type="param_generator",
        custom_error_message=(
            "a param names exactly one generator: " + ", ".join(GENERATORS) + " (and `step` "
            "for int and float), e.g. `classes: {int: [3, 12]}`"
        ),
    ),
]


def _not_reserved(name: str) -> str:
    if name in RESERVED:
        raise PydanticCustomError(
            "reserved_param",
            "{name!r} is a Jinja2 keyword or template name; rename the param",
            {"name": name},
        )
    return name


#: A param's name, as templates read it.
ParamName = Annotated[str, Field(pattern=PARAM_NAME), AfterValidator(_not_reserved)]


def draw(specs: Mapping[str, Any], item_id: str, seed: int) -> dict[str, Any]:
    """Every param's value for `seed`, drawn in declared order from one generator seeded by
    the item and the seed."""
    rng = random.Random(f"{item_id}/{seed}")
    return {name: spec.draw(rng) for name, spec in specs.items()}


def fixed_problems(specs: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with a fixed variant's values: (param name, message) for each param left
    out, unknown or of the wrong type."""
    found = [(name, f"no value for param {name!r}; give every param") for name in specs]
    found = [(name, message) for name, message in found if name not in given]
    for name, value in given.items():
        if name not in specs:
            known = ", ".join(specs) or "none"
            found.append((name, f"{name!r} is not a param of this item (its params: {known})"))
            continue
        try:
            specs[name].fixed(value)
        except ValueError as exc:
            found.append((name, str(exc)))
    return found


def fixed_values(specs: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A fixed variant's values as templates read them, in declared order (checked first by
    `fixed_problems`: `ValueError` otherwise)."""
    return {name: spec.fixed(given[name]) for name, spec in specs.items()}
