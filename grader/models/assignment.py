"""An assignment: items with points, a window, a late policy, attempt limits and reveal rules.

Authored as `assignments/<id>.yaml` beside the bank (`grader validate` checks them with the
items; `grader schema --assignment` prints their JSON Schema). Every rule has a safe default:
attempts unlimited, late work refused, and inside an assignment keys and explanations appear only
after the due date.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from grader.models.items import KEBAB, Problem, StrictModel


class Level(IntEnum):
    """How much of a report a student sees, each level including the ones below it."""

    VERDICT = 0  # status, verdict, score; each check's name and whether it passed
    FEEDBACK = 1  # + the author's words: the chosen option's feedback, code checks' hints
    CHECKS = 2  # + per-check messages with expected and observed values (code items)
    KEY = 3  # + the key and the explanation: everything


class AfterAttempts(StrictModel):
    after_attempts: int = Field(ge=1, description="Shown once this many attempts were made.")


When = Annotated[
    Literal["always", "after_correct", "after_due", "never"] | AfterAttempts,
    Field(description="always, after_correct, after_due, never, or {after_attempts: N}."),
]


class RevealRule(StrictModel):
    """When each level beyond the verdict is shown, for one kind of item."""

    feedback: When = Field(default="after_due", description="The author's feedback and hints.")
    checks: When = Field(default="after_due", description="Per-check expected/observed values.")
    key: When = Field(default="after_due", description="The key and the explanation.")


def _code_rule() -> RevealRule:
    # Which checks passed, and the author's hints, at once; expected values wait for the due date,
    # since a check's expected value may come from the reference solution (`from: reference`),
    # which the student bank keeps secret too. An author may show them earlier (`checks: always`).
    return RevealRule(feedback="always", checks="after_due", key="after_due")


class RevealPolicy(StrictModel):
    """Per item kind; what is not said keeps the safe default."""

    mcq: RevealRule = Field(default_factory=RevealRule)
    numeric: RevealRule = Field(default_factory=RevealRule)
    predict: RevealRule = Field(default_factory=RevealRule)
    code: RevealRule = Field(default_factory=_code_rule)


class LatePolicy(StrictModel):
    """What happens after `due`: refused, accepted with a penalty, or accepted until a cut-off."""

    accept: Literal["never", "with_penalty", "until_cutoff"] = Field(
        default="never", description="never (refuse), with_penalty, or until_cutoff (no penalty)."
    )
    penalty: float = Field(
        default=0.0, ge=0, le=1, description="Share of the score lost per `per` late (0.1 = 10%)."
    )
    per: Literal["hour", "day"] = Field(default="day", description="The unit the penalty counts.")
    cutoff: AwareDatetime | None = Field(
        default=None, description="No submission after this (ISO 8601 with a time zone)."
    )


class AssignmentItem(StrictModel):
    id: str = Field(pattern=KEBAB, description="An item id of the bank.")
    points: float = Field(gt=0, description="What a full score on this item is worth here.")
    attempts: int | None = Field(default=None, ge=1, description="Overrides `attempts` here.")


class Assignment(StrictModel):
    """A graded set of items with a window and rules."""

    schema_version: Literal[1] = Field(description="Version of this file format; currently 1.")
    id: str = Field(pattern=KEBAB, description="Kebab-case id; must equal the file name.")
    title: str = Field(min_length=1)
    course: str = Field(min_length=1, description="Only students of this course may submit.")
    opens: AwareDatetime = Field(description="ISO 8601 with a time zone.")
    due: AwareDatetime = Field(description="ISO 8601 with a time zone.")
    late: LatePolicy = Field(default_factory=LatePolicy)
    attempts: int | Literal["unlimited"] = Field(
        default="unlimited", description="Attempts per item: a number, or unlimited."
    )
    counts: Literal["best", "last"] = Field(default="best", description="Which attempt counts.")
    variants: Literal["per-student", "per-attempt"] = Field(
        default="per-student",
        description="For items with params: each student keeps one variant of an item "
        "(per-student), or gets a new one at each attempt (per-attempt).",
    )
    items: list[AssignmentItem] = Field(min_length=1)
    reveal: RevealPolicy = Field(default_factory=RevealPolicy)

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.due <= self.opens:
            found.append((("due",), "due must be after opens"))
        if self.late.cutoff is not None and self.late.cutoff <= self.due:
            found.append((("late", "cutoff"), "the cut-off must be after due"))
        if self.late.accept == "until_cutoff" and self.late.cutoff is None:
            found.append((("late", "cutoff"), "accept: until_cutoff needs a cutoff"))
        if self.late.accept == "with_penalty" and self.late.penalty == 0:
            found.append((("late", "penalty"), "accept: with_penalty needs a penalty above 0"))
        if isinstance(self.attempts, int) and self.attempts < 1:
            found.append((("attempts",), "attempts must be at least 1, or unlimited"))
        seen: set[str] = set()
        for index, entry in enumerate(self.items):
            if entry.id in seen:
                found.append((("items", index, "id"), f"item {entry.id!r} is listed twice"))
            seen.add(entry.id)
        return found

    def entry(self, item_id: str) -> AssignmentItem | None:
        return next((e for e in self.items if e.id == item_id), None)

    def attempt_limit(self, item_id: str) -> int | None:
        """The most attempts a student has at this item here; None: unlimited."""
        entry = self.entry(item_id)
        if entry is not None and entry.attempts is not None:
            return entry.attempts
        return None if self.attempts == "unlimited" else self.attempts

    def closes(self) -> datetime:
        """The last moment a submission is taken at all."""
        if self.late.accept == "never":
            return self.due
        return self.late.cutoff or datetime.max.replace(tzinfo=self.due.tzinfo)


def assignment_json_schema() -> dict[str, object]:
    """The JSON Schema of assignment files, for editors (`grader schema --assignment`)."""
    schema = Assignment.model_json_schema()
    schema["title"] = "Assignment"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
