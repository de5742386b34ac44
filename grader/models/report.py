"""The Report: what every grading path returns (CLI `--json`, the API, webhook callbacks).

An infrastructure failure is `status: error` with verdict INTERNAL_ERROR, never a zero score.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


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
    message: str = Field(description="What was expected (unless hidden) and what was observed.")
    hint: str | None = None
    expected: str | None = Field(default=None, description="The expected value, unless hidden.")
    observed: str | None = Field(default=None, description="What the submission showed.")


class Override(BaseModel):
    """An instructor's correction of the score; the student sees it with its reason."""

    score: float = Field(description="The score that counts, in this report's points.")
    graded_score: float = Field(description="The score the grader gave.")
    reason: str = Field(description="Why the instructor changed it.")


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
    message: str | None = Field(default=None, description="A note on the whole submission.")
    override: Override | None = Field(
        default=None, description="Set when an instructor changed the score (course server)."
    )

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED
