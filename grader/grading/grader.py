"""The one place that grades: an item and an answer in, a Report out, for every kind.

The CLI, Gradescope, the course server's pool, Celery workers, the self-test and the benchmark all
call `Grader.grade`; none of them dispatches on the item's kind or assembles references itself.

A student bank's items (`student: true`, from `grader bank export --student`) have no key: a code
item is graded on its public checks with a note that the grade comes from the course server, and
any other answer is refused with the `grader submit` line to use instead.
"""

from __future__ import annotations

import shlex
from types import TracebackType

from grader.bank import Bank
from grader.errors import BadInput, BadSubmission
from grader.grading.answers import grade_answer
from grader.grading.bounds import bounded
from grader.grading.code import grade_code
from grader.grading.predict import grade_prediction
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source
from grader.models import CodeItem, Item, PredictItem, Report
from grader.settings import GraderSettings
from sandbox.backends import open_sandbox
from sandbox.base import Sandbox

#: What a student hands in: a program (`Source`, from a .py or .ipynb) for a code item, the
#: answer's text (a letter, a number, a prediction) for every other kind.
Answer = Source | str


class Grader:
    """Grades answers to a bank's items. The sandbox is the one given, or opened on first need
    from the settings (an mcq answer never starts one); close the grader (or use `with`)."""

    def __init__(
        self,
        bank: Bank,
        sandbox: Sandbox | None = None,
        settings: GraderSettings | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        self.bank = bank
        self.settings = settings or GraderSettings()
        self.backend = backend or self.settings.backend
        self._sandbox = sandbox
        self._references: ReferenceStore | None = None

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            self._sandbox = open_sandbox(self.backend, self.settings.sandbox)
        return self._sandbox

    @property
    def references(self) -> ReferenceStore:
        if self._references is None:
            solutions, cache = self.settings.solutions, self.settings.reference_cache
            self._references = ReferenceStore(self.sandbox, solutions, cache, self.bank.data_files)
        return self._references

    def grade(self, item: Item | str, answer: Answer) -> Report:
        """Grade one answer; never raises for what a submitted program did.

        Raises `BadSubmission` when the answer is the wrong sort for the item (text for a code
        exercise, a program for anything else) and the bank's errors for an unknown item."""
        item = self.bank.get(item) if isinstance(item, str) else item
        if isinstance(item, CodeItem):
            if not isinstance(answer, Source):
                raise BadSubmission(
                    f"{item.id!r} is a code exercise: hand in a .py or .ipynb file "
                    f"(`grader check {item.id} FILE`)"
                )
            data = self.bank.data_files(item)
            report = bounded(grade_code(item, answer, self.sandbox, self.references, data))
            return public_checks_only(report) if item.student else report
        if isinstance(answer, Source):
            raise BadSubmission(
                f"{item.id!r} is a {item.kind} item: answer it with text "
                f"(`grader answer {item.id} ANSWER`), not a file"
            )
        if item.student:
            raise BadInput(submit_instead(item, answer))
        if isinstance(item, PredictItem):
            return grade_prediction(item, answer, self.sandbox, self.settings.snippet_cache)
        return grade_answer(item, answer)

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def public_checks_only(report: Report) -> Report:
    """A student bank's code report: its checks are the public ones, so its score is not the
    grade; the note says so in `message`, which every face (text, `--json`, Gradescope) shows."""
    note = (
        f"Public checks only: your grade comes from the course server "
        f"(`grader submit {report.question} FILE`)."
    )
    message = f"{report.message}; {note}" if report.message else note
    return report.model_copy(update={"message": message})


def submit_instead(item: Item, answer: str) -> str:
    """Why a student item's answer is not graded here, and the one command that grades it."""
    where = (
        "is computed on the course server, which runs the snippet"
        if isinstance(item, PredictItem)
        else "is on the course server"
    )
    command = f"grader submit {item.id} --choice {shlex.quote(answer)}"
    return f"the key of {item.id!r} {where}: submit your answer with `{command}`"
