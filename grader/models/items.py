"""The bank's item kinds. Every field has a description: it becomes the JSON Schema authors'
editors use for completion (`grader schema`).

Rules pydantic cannot express per field (an answer letter beyond the choices, two choices with
the same text) live in each model's `problems()`, so the loader can point at the exact line.

An item with `params:` (or an mcq with `shuffle: true`) varies (grader/variants/): the bank keeps
its template document in `_source` and each model instance is one rendered variant of it, with
`_variant` saying which.
"""

from __future__ import annotations

import math
from enum import StrEnum
from string import ascii_uppercase
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from grader.variants.params import ParamName, ParamSpec, fixed_problems

if TYPE_CHECKING:
    from grader.variants.variant import Variant

SCHEMA_VERSION = 1
KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

#: A problem found after parsing: where (a field path, as pydantic writes `loc`) and what.
Problem = tuple[tuple[str | int, ...], str]


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a key must not pass silently. No number an author
    writes may be infinite or NaN (`1e999999` reads as infinity): a score built from one is
    `null` in JSON, and a comparison with NaN never holds."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class FixedAlias(StrictModel):
    """A former id that names one fixed variant of a parameterised item: exactly these values,
    never another (an item that took the place of several static ones keeps each old id)."""

    id: str = Field(pattern=KEBAB, description="The former id.")
    params: dict[str, Any] = Field(
        description=(
            "A value for every param of the item (a confusion param as `{tp:, fp:, fn:, tn:}`)."
        )
    )


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class Citation(StrictModel):
    """Where an item came from, so authors can trace it back to the course page."""

    page: str = Field(description="Seed page number, e.g. '001' for seeds/001_*.txt.")
    section: str = Field(description="Where on the page, e.g. 'Practice 3'.")


def _keys_unless_student(schema: dict[str, Any], model: type[Any]) -> None:
    """Say in the JSON Schema what `_keyed` checks: an item without `student: true` needs its
    keys (editors then flag a course item without an answer, as `grader validate` does)."""
    schema["if"] = {"properties": {"student": {"const": True}}, "required": ["student"]}
    schema["else"] = model.course_schema()


class ItemBase(StrictModel):
    """Fields every item has, whatever its kind.

    A course bank's item has its keys (`KEYS`: the answer, the explanation...); a student bank's
    (`student: true`, written by `grader bank export --student`) leaves them out, so those fields
    are optional to pydantic and required by `_keyed` unless the item is a student item."""

    model_config = ConfigDict(json_schema_extra=_keys_unless_student)
    #: Fields a course bank's item must have and a student bank's item leaves out.
    KEYS: ClassVar[tuple[str, ...]] = ("explanation",)

    schema_version: Literal[1] = Field(description="Version of this file format; currently 1.")
    id: str = Field(pattern=KEBAB, description="Kebab-case id; must equal the file name.")
    title: str = Field(min_length=1, description="Short title shown in `grader list`.")
    prompt: str = Field(min_length=1, description="The question, in Markdown.")
    tags: list[Annotated[str, Field(pattern=KEBAB)]] = Field(
        default_factory=list, description="Kebab-case topics, used by `grader list --tag`."
    )
    difficulty: Difficulty = Field(description="easy, medium or hard.")
    points: float = Field(default=1, gt=0, description="Marks for a fully correct answer.")
    aliases: list[Annotated[str, Field(pattern=KEBAB)] | FixedAlias] = Field(
        default_factory=list,
        description=(
            "Former ids of this item (after a rename): the bank still finds it by them "
            "(`grader show`, `answer`, `check`, `selftest`, the course server); `grader "
            "list` shows only ids. Unique across the bank's ids and aliases. An item with "
            "params may name one fixed variant per former id: `{id: old-id, params: {...}}`."
        ),
    )
    params: dict[ParamName, ParamSpec] = Field(
        default_factory=dict,
        description=(
            "Values drawn per student, in this order, that the item's text reads as Jinja2 "
            "templates (`{{ classes }}`): each one generator, e.g. `{int: [3, 12]}`, "
            "`{float: [0.001, 0.1], step: 0.001}`, `{choice: [4, 8]}`, `{shape: [[1, 8], "
            "[3, 3]]}`, `{image_size: [160, 288]}`, `{confusion: {total: [100, 300]}}`, "
            "`{class_count: [3, 20]}`."
        ),
    )
    student: bool = Field(
        default=False,
        description=(
            "An item of a student bank (`grader bank export --student`): no key, feedback or "
            "explanation; the course server grades it. Never set it in a course bank."
        ),
    )
    explanation: str | None = Field(
        default=None,
        min_length=1,
        validate_default=True,
        description=(
            "Shown after answering: why the key is right (and where a source was wrong). "
            "Required unless `student`."
        ),
    )
    source: Citation | None = Field(default=None, description="The course page it came from.")
    #: The plain template document this item was rendered from (None: the item never varies).
    _source: dict[str, Any] | None = PrivateAttr(default=None)
    #: Which variant of it this is (None on an item that never varies).
    _variant: Variant | None = PrivateAttr(default=None)

    @field_validator("*", mode="after")
    @classmethod
    def _keyed(cls, value: Any, info: ValidationInfo) -> Any:
        """A missing key is a missing field, located at it, unless the item is a student's
        (`student` is declared before every key field, so it is read by now)."""
        if value is None and info.field_name in cls.KEYS and not info.data.get("student"):
            raise PydanticCustomError("missing", "Field required")
        return value

    @classmethod
    def course_schema(cls) -> dict[str, Any]:
        """What the JSON Schema requires of an item that is not a student item."""
        return {"required": list(cls.KEYS)}

    def problems(self) -> list[Problem]:
        """Cross-field problems, each with the field path it concerns."""
        return []

    def fixed_problems(self) -> list[Problem]:
        """Each fixed alias gives a value of the right type for every param, and an item
        without params has none (a former id of a static item is a plain string)."""
        found: list[Problem] = []
        for index, alias in enumerate(self.aliases):
            if not isinstance(alias, FixedAlias):
                continue
            if not self.params:
                message = "the item has no params; write the former id as a plain string"
                found.append((("aliases", index, "params"), message))
                continue
            for name, message in fixed_problems(self.params, alias.params):
                found.append((("aliases", index, "params", name), message))
        return found

    @property
    def alias_ids(self) -> list[str]:
        """The former ids, plain and fixed, in file order."""
        return [alias if isinstance(alias, str) else alias.id for alias in self.aliases]

    def fixed_alias(self, alias_id: str) -> FixedAlias | None:
        """The fixed variant `alias_id` names, if it names one."""
        for alias in self.aliases:
            if isinstance(alias, FixedAlias) and alias.id == alias_id:
                return alias
        return None

    @property
    def varies(self) -> bool:
        """Whether students see different variants of this item: it has a template (params or
        a shuffle) and is not a fixed variant."""
        variant = self._variant
        return self._source is not None and variant is not None and variant.seed is not None

    @property
    def variant(self) -> Variant | None:
        """Which variant this is: set on every rendered item, None on one that never varies."""
        return self._variant

    @property
    def needs_gpu(self) -> bool:
        """Whether grading an answer needs a GPU host (kinds that run nothing never do)."""
        return False

    def public(self) -> dict[str, Any]:
        """What a student may see before answering: never a key, feedback or explanation. A
        varying item's view is its variant's, marked with `varies` and its seed."""
        view = self.model_dump(
            mode="json", include={"id", "kind", "title", "prompt", "tags", "difficulty", "points"}
        )
        if self.varies and self._variant is not None:
            view |= {"varies": True, "seed": self._variant.seed}
        return view


class Choice(StrictModel):
    """One option of a multiple-choice item."""

    text: str = Field(min_length=1, description="The option as students read it.")
    id: str | None = Field(
        default=None,
        pattern=KEBAB,
        description=(
            "A kebab-case id that stays with the option when options are shuffled (reports "
            "name it); default: the option's letter in file order."
        ),
    )
    fixed: bool = Field(
        default=False,
        description="Keep this option at its file position when options are shuffled "
        "(e.g. 'none of the above').",
    )
    feedback: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Why this option is right or wrong; shown when it is chosen. Required unless the "
            "item is a `student` item (feedback can name the key)."
        ),
    )


class Verify(StrictModel):
    """A snippet whose run proves the keyed choice (run by `grader selftest`, never shown).

    `proves` names the choice the output proves, so a key changed without the snippet (or the
    reverse) fails the self-test instead of passing it."""

    proves: str = Field(
        pattern=r"^[A-H]$",
        description="Letter of the choice the snippet's output proves; the self-test fails "
        "when it is not the item's `answer`.",
    )
    snippet: str = Field(min_length=1, description="Python run in the sandbox with torch.")
    output: str | None = Field(
        default=None, description="What it must print (compared with whitespace normalised)."
    )
    raises: str | None = Field(default=None, description="Exception class it must end with.")

    @model_validator(mode="after")
    def _one_outcome(self) -> Verify:
        if (self.output is None) == (self.raises is None):
            raise ValueError("give exactly one of `output` or `raises`")
        return self


class McqItem(ItemBase):
    """A single-answer multiple-choice item; choices are lettered A, B, C, ... in file order."""

    kind: Literal["mcq"] = Field(description="Multiple choice, one correct answer.")
    choices: list[Choice] = Field(
        min_length=2,
        max_length=8,
        description="The options, in the order they are shown (unless `shuffle`).",
    )
    shuffle: bool = Field(
        default=False,
        description=(
            "Show the options in an order drawn per student (`fixed` ones stay in place); "
            "`answer` and `verify.proves` still name file-order letters."
        ),
    )
    answer: str | None = Field(
        default=None,
        pattern=r"^[A-H]$",
        validate_default=True,
        description="Letter of the correct choice. Required unless `student`.",
    )
    verify: Verify | None = Field(
        default=None, description="Code whose run proves the key; checked by `grader selftest`."
    )
    KEYS: ClassVar[tuple[str, ...]] = ("answer", "explanation")

    @field_validator("choices", mode="after")
    @classmethod
    def _feedback(cls, choices: list[Choice], info: ValidationInfo) -> list[Choice]:
        """Every choice of a course item has feedback; a student item's choices have none."""
        if info.data.get("student"):
            return choices
        for index, choice in enumerate(choices):
            if choice.feedback is None:
                raise PydanticCustomError(
                    "feedback_missing",
                    "choice {letter} has no feedback; add `feedback:` to every choice",
                    {"letter": ascii_uppercase[index]},
                )
        return choices

    @classmethod
    def course_schema(cls) -> dict[str, Any]:
        feedback = {"choices": {"items": {"required": ["feedback"]}}}
        return super().course_schema() | {"properties": feedback}

    @property
    def letters(self) -> str:
        return ascii_uppercase[: len(self.choices)]

    def problems(self) -> list[Problem]:
        return self._letter_problems() + self._repeated_choices() + self._shuffle_problems()

    def _letter_problems(self) -> list[Problem]:
        """The key, and the choice `verify` proves, are letters of the choices."""
        span = f"({self.letters[0]}-{self.letters[-1]})"
        found: list[Problem] = []
        if self.answer is not None and self.answer not in self.letters:
            found.append(
                (
                    ("answer",),
                    f"answer {self.answer!r} is not one of the choices {span}; "
                    "use the letter of the correct choice",
                )
            )
        if self.verify is not None and self.verify.proves not in self.letters:
            found.append(
                (
                    ("verify", "proves"),
                    f"verify proves {self.verify.proves!r}, which is not one of the choices "
                    f"{span}; name the choice its output proves",
                )
            )
        return found

    def _repeated_choices(self) -> list[Problem]:
        found: list[Problem] = []
        seen: dict[str, int] = {}
        for index, choice in enumerate(self.choices):
            key = " ".join(choice.text.split())  # code is case-sensitive: False != false
            if key in seen:
                found.append(
                    (
                        ("choices", index, "text"),
                        f"choice {ascii_uppercase[index]} repeats the text "
                        f"of choice {ascii_uppercase[seen[key]]}; every choice needs its own text",
                    )
                )
            seen.setdefault(key, index)
        return found

    def _shuffle_problems(self) -> list[Problem]:
        """Ids are unique; `fixed` means something only when options are shuffled, and a
        shuffle needs two options that may move."""
        found: list[Problem] = []
        seen: dict[str, int] = {}
        for index, choice in enumerate(self.choices):
            if choice.id is not None and choice.id in seen:
                other = ascii_uppercase[seen[choice.id]]
                message = f"choice id {choice.id!r} is also choice {other}'s; give each its own"
                found.append((("choices", index, "id"), message))
            if choice.id is not None:
                seen.setdefault(choice.id, index)
            if choice.fixed and not self.shuffle:
                message = (
                    "`fixed` keeps a shuffled option in place; add `shuffle: true` or remove it"
                )
                found.append((("choices", index, "fixed"), message))
        moving = sum(not choice.fixed for choice in self.choices)
        if self.shuffle and moving < 2:
            message = "shuffle needs at least two options that are not `fixed`"
            found.append((("shuffle",), message))
        return found

    def public(self) -> dict[str, Any]:
        view = super().public()
        view["choices"] = [
            {"letter": letter, "text": choice.text}
            for letter, choice in zip(self.letters, self.choices, strict=True)
        ]
        return view


class Tolerance(StrictModel):
    """How far a numeric answer may be from the key: exactly one of absolute or relative."""

    absolute: float | None = Field(default=None, ge=0, description="|answer - key| allowed.")
    relative: float | None = Field(
        default=None, ge=0, description="|answer - key| / |key| allowed."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Tolerance:
        if (self.absolute is None) == (self.relative is None):
            raise ValueError("give exactly one of `absolute` or `relative`")
        return self

    def accepts(self, key: float, value: float) -> bool:
        if self.absolute is not None:
            return abs(value - key) <= self.absolute + 1e-12
        return math.isclose(value, key, rel_tol=self.relative or 0.0, abs_tol=1e-12)


class NumericItem(ItemBase):
    """A number to compute, accepted within a tolerance."""

    kind: Literal["numeric"] = Field(description="A numeric answer with a tolerance.")
    answer: float | None = Field(
        default=None,
        allow_inf_nan=False,
        validate_default=True,
        description="The correct value. Required unless `student`.",
    )
    tolerance: Tolerance | None = Field(
        default=None,
        validate_default=True,
        description="How close an answer must be to count as right. Required unless `student`.",
    )
    KEYS: ClassVar[tuple[str, ...]] = ("answer", "tolerance", "explanation")
