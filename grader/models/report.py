"""The Report: what every grading path returns (CLI `--json`, the API, webhook callbacks).

An infrastructure failure is `status: error` with verdict INTERNAL_ERROR, never a zero score.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from grader.text import printable

#: Text a submission may have written into: every character a terminal would act on is shown as
#: `?` once, here, so no reader of a report (the CLI, `jq -r`, an LMS page) has to remember to.
Shown = Annotated[str, AfterValidator(printable)]


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


class Verdict(StrEnum):
    PASSED = "PASSED"
    WRONG_ANSWER = "WRONG_ANSWER"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    TIME_LIMIT = "TIME_LIMIT"
    MEMORY_LIMIT = "MEMORY_LIMIT"
    OUTPUT_LIMIT = "OUTPUT_LIMIT"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class CheckResult(BaseModel):
    """One check's outcome, in words a student can act on."""

    name: str = Field(description="Which check this is.")
    passed: bool
    score: float
    max_score: float
    message: Shown = Field(description="What was expected (unless hidden) and what was observed.")
    hint: str | None = None
    expected: str | None = Field(default=None, description="The expected value, unless hidden.")
    observed: str | None = Field(default=None, description="What the submission showed.")


class Override(BaseModel):
    """An instructor's correction of the score; the student sees it with its reason."""

    score: float = Field(description="The score that counts, in this report's points.")
    graded_score: float = Field(description="The score the grader gave.")
    reason: str = Field(description="Why the instructor changed it.")


class ReportVariant(BaseModel):
    """Which variant of a parameterised item was graded, as the student saw it."""

    seed: int | None = Field(description="The variant's seed; null for a fixed variant.")
    values: dict[str, Any] = Field(
        default_factory=dict, description="The params' values, as the prompt showed them."
    )
    choices: list[str] | None = Field(
        default=None,
        description="A shuffled multiple-choice item's option ids, in the order shown.",
    )


class Report(BaseModel):
    """The grade of one submission."""

    question: str
    status: Status
    verdict: Verdict
    score: float
    max_score: float
    checks: list[CheckResult] = Field(default_factory=list)
    duration_s: float
    backend: str
    explanation: str | None = Field(default=None, description="The item's explanation.")
    message: Shown | None = Field(default=None, description="A note on the whole submission.")
    notes: list[Shown] = Field(
        default_factory=list,
        description="How the file was read: notebook lines that could not run, one per cell.",
    )
    output: Shown | None = Field(
        default=None,
        description="What the submission printed (stdout and stderr), labelled by part, the "
        "first 4 KiB, made printable; null when it printed nothing.",
    )
    override: Override | None = Field(
        default=None, description="Set when an instructor changed the score (course server)."
    )
    variant: ReportVariant | None = Field(
        default=None,
        description="The variant graded, for an item with params or shuffled options; null "
        "for an item every student sees the same.",
    )

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED
