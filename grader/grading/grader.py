"""The one place that grades: an item and an answer in, a Report out, for every kind.

The CLI, Gradescope, the course server's pool, Celery workers, the self-test and the benchmark all
call `Grader.grade`; none of them dispatches on the item's kind or assembles references itself.

A student bank's items (`student: true`, from `grader bank export --student`) have no key: a code
item is graded on its public checks with a note that the grade comes from the course server, and
any other answer is refused with the `grader submit` line to use instead.

A variant of a parameterised item is graded as the item it is (`Bank.variant` renders it); its
report says which variant it was (`Report.variant`: the seed, the values, the options' order).

An mcq or numeric answer is graded on the host with what this module imports at its top; what
running code needs (the sandboxes, the references, the code and predict judges, the settings) is
imported, and the settings read, only when an item needs it: `grader answer` on an mcq item
starts in a fraction of a second (tests/grader/test_cli_startup.py holds the line).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from grader.errors import BadInput, BadSubmission
from grader.grading.answers import grade_answer
from grader.grading.submission import Source
from grader.models import McqItem, NumericItem, ReportVariant

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.grading.reference import ReferenceStore
    from grader.models import CodeItem, Item, PredictItem, Report
    from grader.settings import GraderSettings
    from sandbox.base import Sandbox

#: What a student hands in: a program (`Source`, from a .py or .ipynb) for a code item, the
#: answer's text (a letter, a number, a prediction) for every other kind.
Answer = Source | str
#: The kinds graded here on the host, from the answer's text alone: no sandbox, no settings.
HOST_KINDS = (McqItem, NumericItem)


def runs_code(item: Item) -> bool:
    """Whether grading an answer to `item` runs code in a sandbox (every kind but mcq and
    numeric: a code exercise, or a predict item's snippet)."""
    return not isinstance(item, HOST_KINDS)


class Grader:
    """Grades answers to a bank's items. The sandbox is the one given, or opened on first need
    from the settings (an mcq answer never starts one); close the grader (or use `with`).

    `settings` may be a function that reads them: it is called when an item first needs them,
    so an mcq or numeric answer never reads (nor validates) the sandbox's settings."""

    def __init__(
        self,
        bank: Bank,
        sandbox: Sandbox | None = None,
        settings: GraderSettings | Callable[[], GraderSettings] | None = None,
        *,
        backend: str | None = None,
    ) -> None:
        self.bank = bank
        self._given_settings = settings
        self._backend = backend
        self._sandbox = sandbox
        self._references: ReferenceStore | None = None

    @cached_property
    def settings(self) -> GraderSettings:
        given = self._given_settings
        if given is None:
            from grader.settings import GraderSettings

            return GraderSettings()
        return given() if callable(given) else given

    @property
    def backend(self) -> str:
        return self._backend or self.settings.backend

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            from sandbox.backends import open_sandbox

            self._sandbox = open_sandbox(self.backend, self.settings.sandbox)
        return self._sandbox

    @property
    def references(self) -> ReferenceStore:
        if self._references is None:
            from grader.grading.reference import ReferenceStore

            solutions, cache = self.settings.solutions, self.settings.reference_cache
            self._references = ReferenceStore(self.sandbox, solutions, cache, self.bank.data_files)
        return self._references

    def grade(self, item: Item | str, answer: Answer, *, draw: int | None = None) -> Report:
        """Grade one answer; never raises for what a submitted program did. `draw` picks the
        seed of a code item's pool its drawn inputs come from (the self-test's `--every-draw`);
        by default one at random.

        Raises `BadSubmission` when the answer is the wrong sort for the item (text for a code
        exercise, a program for anything else) and the bank's errors for an unknown item."""
        item = self.bank.get(item) if isinstance(item, str) else item
        if isinstance(item, HOST_KINDS):
            report = grade_answer(item, answer_text(item, answer))
        else:
            report = self._run(item, answer, draw)
        return with_variant(report, item)

    def _run(self, item: CodeItem | PredictItem, answer: Answer, draw: int | None) -> Report:
        """Grade an answer whose grading runs code: a program, or a predicted output."""
        from grader.grading.bounds import bounded
        from grader.grading.code import grade_code
        from grader.grading.predict import grade_prediction
        from grader.models import CodeItem

        if isinstance(item, CodeItem):
            if not isinstance(answer, Source):
                raise BadSubmission(
                    f"{item.id!r} is a code exercise: hand in a .py or .ipynb file "
                    f"(`grader check {item.id} FILE`)"
                )
            data = self.bank.data_files(item)
            graded = grade_code(item, answer, self.sandbox, self.references, data, draw)
            report = bounded(graded)
            return public_checks_only(report) if item.student else report
        text = answer_text(item, answer)
        return grade_prediction(item, text, self.sandbox, self.settings.snippet_cache)

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


def with_variant(report: Report, item: Item) -> Report:
    """The report, saying which variant it graded when the item is one (varying or fixed)."""
    variant = item.variant
    if variant is None:
        return report
    graded = ReportVariant(seed=variant.seed, values=variant.values, choices=variant.choices)
    return report.model_copy(update={"variant": graded})


def public_checks_only(report: Report) -> Report:
    """A student bank's code report: its checks are the public ones, so its score is not the
    grade; the note says so in `message`, which every face (text, `--json`, Gradescope) shows."""
    note = (
        f"Public checks only: your grade comes from the course server "
        f"(`grader submit {report.question} FILE`)."
    )
    message = f"{report.message}\n{note}" if report.message else note
    return report.model_copy(update={"message": message})


def answer_text(item: McqItem | NumericItem | PredictItem, answer: Answer) -> str:
    """The text answering an item that is not a code exercise; `BadSubmission` for a file, and
    `BadInput` (with the command that grades it) for a student bank's item."""
    if isinstance(answer, Source):
        raise BadSubmission(
            f"{item.id!r} is a {item.kind} item: answer it with text "
            f"(`grader answer {item.id} ANSWER`), not a file"
        )
    if item.student:
        raise BadInput(submit_instead(item, answer))
    return answer


def submit_instead(item: Item, answer: str) -> str:
    """Why a student item's answer is not graded here, and the one command that grades it."""
    where = (
        "is computed on the course server, which runs the snippet"
        if item.kind == "predict"
        else "is on the course server"
    )
    asked = item.variant.alias if item.variant and item.variant.alias else item.id
    command = f"grader submit {asked} --choice {shlex.quote(answer)}"
    return f"the key of {item.id!r} {where}: submit your answer with `{command}`"
