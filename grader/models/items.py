"""The bank's item kinds. Every field has a description: it becomes the JSON Schema authors'
editors use for completion (`grader schema`).

Rules pydantic cannot express per field (an answer letter beyond the choices, two choices with
the same text) live in each model's `problems()`, so the loader can point at the exact line.
"""

from __future__ import annotations

import math
from enum import StrEnum
from string import ascii_uppercase
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

#: A problem found after parsing: where (a field path, as pydantic writes `loc`) and what.
Problem = tuple[tuple[str | int, ...], str]


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a key must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class Citation(StrictModel):
    """Where an item came from, so authors can trace it back to the course page."""

    page: str = Field(description="Seed page number, e.g. '001' for seeds/001_*.txt.")
    section: str = Field(description="Where on the page, e.g. 'Practice 3'.")


class ItemBase(StrictModel):
    """Fields every item has, whatever its kind."""

    schema_version: Literal[1] = Field(description="Version of this file format; currently 1.")
    id: str = Field(pattern=KEBAB, description="Kebab-case id; must equal the file name.")
    title: str = Field(min_length=1, description="Short title shown in `grader list`.")
    prompt: str = Field(min_length=1, description="The question, in Markdown.")
    tags: list[Annotated[str, Field(pattern=KEBAB)]] = Field(
        default_factory=list, description="Kebab-case topics, used by `grader list --tag`."
    )
    difficulty: Difficulty = Field(description="easy, medium or hard.")
    points: float = Field(default=1, gt=0, description="Marks for a fully correct answer.")
    explanation: str = Field(
        min_length=1,
        description="Shown after answering: why the key is right (and where a source was wrong).",
    )
    source: Citation | None = Field(default=None, description="The course page it came from.")

    def problems(self) -> list[Problem]:
        """Cross-field problems, each with the field path it concerns."""
        return []

    @property
    def needs_gpu(self) -> bool:
        """Whether grading an answer needs a GPU host (kinds that run nothing never do)."""
        return False

    def public(self) -> dict[str, Any]:
        """What a student may see before answering: never a key, feedback or explanation."""
        return self.model_dump(
            mode="json", include={"id", "kind", "title", "prompt", "tags", "difficulty", "points"}
        )


class Choice(StrictModel):
    """One option of a multiple-choice item."""

    text: str = Field(min_length=1, description="The option as students read it.")
    feedback: str = Field(
        min_length=1, description="Why this option is right or wrong; shown when it is chosen."
    )


class Verify(StrictModel):
    """A snippet whose run proves the keyed choice (run by `grader selftest`, never shown)."""

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
        min_length=2, max_length=8, description="The options, in the order they are shown."
    )
    answer: str = Field(pattern=r"^[A-H]$", description="Letter of the correct choice.")
    verify: Verify | None = Field(
        default=None, description="Code whose run proves the key; checked by `grader selftest`."
    )

    @property
    def letters(self) -> str:
        return ascii_uppercase[: len(self.choices)]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.answer not in self.letters:
            found.append(
                (
                    ("answer",),
                    f"answer {self.answer!r} is not one of the choices "
                    f"({self.letters[0]}-{self.letters[-1]}); use the letter of the correct choice",
                )
            )
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
    answer: float = Field(allow_inf_nan=False, description="The correct value.")
    tolerance: Tolerance = Field(description="How close an answer must be to count as right.")
