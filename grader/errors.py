"""Failures of the grader itself and bad input from authors, operators and students: every
exception class of the `grader` package but the course server's (`grader.service.errors`).

    GraderError                  exit 3: the grader could not grade
    ├── BadInput                 exit 2: bad usage or bad input; the message says how to fix it
    │   ├── BankError            a question file is invalid (carries every `BankIssue` found)
    │   ├── UnknownQuestion      no item has that id
    │   ├── BadVariant           an item's templates give no valid item for some values
    │   ├── BadAnswer            an answer that cannot be read as one (a letter out of range, ...)
    │   └── BadSubmission        an unreadable, oversized or malformed submission file
    ├── ReferenceMissing         the reference run gave no value a check needs (a broken item)
    ├── SnippetFailed            an author's snippet could not be run to an observation
    ├── NeedsGpu                 a worker without a GPU was handed an item that needs one
    └── ServerUnavailable        `grader submit`: the course server is unreachable or failed

    ChannelError                 deliberately outside GraderError: forged or cut output

`ChannelError` says what came back from a sandbox cannot be trusted: that is the submission's
doing, so it ends as a *failed* report (`grading.code.unreadable`), never as a grader error. The
in-sandbox modules (`probe/harness/wire.py`'s WireError, `sandbox/process/launcher.py`'s
SetupError) run with the standard library only and cannot import this tree.

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


class BadVariant(BadInput):
    """Raised when an item's templates cannot be rendered, or render to an invalid item, with
    some variant's values (`grader validate` checks seed 0, `grader selftest` more)."""


class BadAnswer(BadInput):
    """Raised when an answer cannot be read (a letter that is not a choice, not a number)."""


class BadSubmission(BadInput):
    """Raised when a submitted file is unreadable, oversized, or not what its name says."""


class ReferenceMissing(GraderError):
    """Raised when a check expects a value from the reference run and it has none."""


class SnippetFailed(GraderError):
    """Raised when an author's snippet could not be run to an observation."""


class NeedsGpu(GraderError):
    """Raised when a pool process without a GPU is handed an item that requires one."""


class ServerUnavailable(GraderError):
    """Raised when the course server cannot be reached, fails, or never finishes grading."""


class ChannelError(Exception):
    """Raised when the observation channel is malformed, forged, duplicated or cut short.

    Not a GraderError on purpose: see the tree above."""
