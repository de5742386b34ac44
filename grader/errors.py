"""Failures of the grader itself and bad input from authors, operators and students.

    GraderError                  exit 3: the grader could not grade
    └── BadInput                 exit 2: bad usage or bad input; the message says how to fix it
        ├── BankError            a question file is invalid (carries every `BankIssue` found)
        ├── UnknownQuestion      no item has that id
        ├── BadAnswer            an answer that cannot be read as one (a letter out of range, ...)
        └── BadSubmission        an unreadable, oversized or malformed submission file

A wrong answer is not an exception: it is a `Report` with status `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass


class GraderError(Exception):
    """Raised when the grader itself cannot grade (an internal or infrastructure failure)."""

    exit_code = 3


class BadInput(GraderError):
    """Raised for bad usage or bad input; the message names the file or field and the fix."""

    exit_code = 2


@dataclass(frozen=True)
class BankIssue:
    """One problem in a question file, located for the author."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}:{self.column}:{where} {self.message}"


class BankError(BadInput):
    """Raised when question files are invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[BankIssue]) -> None:
        self.issues = issues
        first = str(issues[0]) if issues else "invalid question bank"
        more = f" (and {len(issues) - 1} more; run `grader validate`)" if len(issues) > 1 else ""
        super().__init__(first + more)


class UnknownQuestion(BadInput):
    """Raised when no item in the bank has the requested id."""


class BadAnswer(BadInput):
    """Raised when an answer cannot be read (a letter that is not a choice, not a number)."""


class BadSubmission(BadInput):
    """Raised when a submitted file is unreadable, oversized, or not what its name says."""
