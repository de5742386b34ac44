"""The bank tests itself: references pass with full marks, wrong solutions fail as declared,
`verify` snippets prove their mcq keys, and predict keys are computed.

`solutions/<id>/expect.yaml` declares the cases (`grader.models.expect`):

    reference: reference.py
    wrong:
      - file: wrong_forgot_head.py
        verdict: WRONG_ANSWER
        failed: [output-shape, fc-out-features]

The cases are planned first (so the table's columns are known) and then run one by one, each row
given to the caller as it finishes: a self-test of the whole bank takes minutes, and its table
should grow as it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.bank import Bank
from grader.bank.solutions import item_solution_issues, read_solution_set
from grader.errors import BankError, BankIssue, SnippetFailed
from grader.grading import Grader
from grader.grading.checks import normalise
from grader.grading.predict import computed_key
from grader.grading.snippets import run_snippet
from grader.grading.submission import Source
from grader.models import CodeItem, Item, McqItem, PredictItem, Report, Verdict
from grader.models.expect import EXPECT_FILE, SolutionSet, WrongCase
from grader.probe.summaries import describe_error

#: The case name of the rows that say why an item's solutions could not be run.
SOLUTIONS_CASE = "solutions"
#: Verdicts a busy host can cause rather than the solution: a case that gets one where another
#: was declared is graded once more, and its row says so.
HOST_VERDICTS = (Verdict.TIME_LIMIT, Verdict.INTERNAL_ERROR)


@dataclass(frozen=True)
class Row:
    """One line of the self-test table."""

    item: str
    case: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Plan:
    """One item's cases, in the order they run; `issues`: its solutions cannot be run."""

    item: Item
    cases: tuple[str, ...]
    solutions: SolutionSet | None = None
    issues: tuple[BankIssue, ...] = ()


def plan(bank: Bank, items: Iterable[Item], solutions: Path) -> list[Plan]:
    """What the self-test of `items` (of `bank`) will run, read before anything runs."""
    plans = []
    for item in items:
        if isinstance(item, CodeItem):
            plans.append(_code_plan(bank, item, solutions / item.id))
        elif isinstance(item, McqItem) and item.verify is not None:
            plans.append(Plan(item, ("verify",)))
        elif isinstance(item, PredictItem):
            plans.append(Plan(item, ("key",)))
    return plans


def _code_plan(bank: Bank, item: CodeItem, folder: Path) -> Plan:
    issues = item_solution_issues(bank, item, folder)
    if issues:
        return Plan(item, (SOLUTIONS_CASE,) * len(issues), issues=tuple(issues))
    cases = load_solution_set(folder)
    return Plan(item, (cases.reference, *(case.file for case in cases.wrong)), solutions=cases)


def load_solution_set(folder: Path) -> SolutionSet:
    """A solutions folder's `expect.yaml`; `BankError` with its issues when it is missing or
    does not validate."""
    path = folder / EXPECT_FILE
    if not path.is_file():
        raise BankError([BankIssue(str(path), 1, 1, "", "missing; declare the solutions here")])
    cases, _, issues = read_solution_set(path)
    if cases is None:
        raise BankError(issues)
    return cases


def selftest(plans: Iterable[Plan], grader: Grader) -> Iterator[Row]:
    """Every planned case, graded through `grader` exactly as a student's answer would be,
    one row as each finishes."""
    for planned in plans:
        item = planned.item
        if planned.issues:
            yield from (Row(item.id, SOLUTIONS_CASE, False, str(i)) for i in planned.issues)
        elif isinstance(item, CodeItem) and planned.solutions is not None:
            yield from _code_rows(item, grader, planned.solutions)
        elif isinstance(item, McqItem):
            yield _verify_row(item, grader)
        elif isinstance(item, PredictItem):
            yield _predict_row(item, grader)


def _code_rows(item: CodeItem, grader: Grader, cases: SolutionSet) -> Iterator[Row]:
    folder = grader.settings.solutions / item.id
    reference, retried = _grade(grader, item, folder / cases.reference, Verdict.PASSED)
    full = reference.passed and reference.score == reference.max_score
    score = f"{reference.verdict.value} {reference.score:g}/{reference.max_score:g}"
    detail = score + ("" if full else f" {_failures(reference)}")
    yield Row(item.id, cases.reference, full, detail + retried)
    for case in cases.wrong:
        report, retried = _grade(grader, item, folder / case.file, case.verdict)
        row = _wrong_row(item, case, report)
        yield Row(row.item, row.case, row.ok, row.detail + retried)


def _grade(grader: Grader, item: CodeItem, path: Path, declared: Verdict) -> tuple[Report, str]:
    """The case's report; graded a second time when the first got a verdict a busy host can
    cause (a time limit, a sandbox failure) where another was declared. The second report
    stands, and the returned note says the case was retried and why."""
    report = grader.grade(item, _source(path))
    if report.verdict not in HOST_VERDICTS or report.verdict is declared:
        return report, ""
    first = report.verdict.value
    return grader.grade(item, _source(path)), f" (graded twice: the first run got {first})"


def _wrong_row(item: CodeItem, case: WrongCase, report: Report) -> Row:
    failed = sorted(c.name for c in report.checks if not c.passed)
    ok = report.verdict is case.verdict and failed == sorted(case.failed)
    detail = f"{report.verdict.value} failed={failed}"
    if not ok:
        detail += f" (declared {case.verdict.value} failed={sorted(case.failed)})"
    return Row(item.id, case.file, ok, detail)


def _failures(report: Report) -> str:
    text = "; ".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)
    return text or str(report.message or "")


def _source(path: Path) -> Source:
    return Source(path.read_text(encoding="utf-8"))


def _verify_row(item: McqItem, grader: Grader) -> Row:
    """The snippet's run proves the choice it names, and that choice is the key."""
    verify = item.verify
    assert verify is not None
    if verify.proves != item.answer:
        return Row(
            item.id,
            "verify",
            False,
            f"key {item.answer}, but verify proves {verify.proves}: "
            "fix `answer` or the snippet and its `proves`",
        )
    try:
        seen = run_snippet(grader.sandbox, verify.snippet, cache=grader.settings.snippet_cache)
    except SnippetFailed as exc:
        return Row(item.id, "verify", False, str(exc))
    if verify.raises is not None:
        error = seen.get("error") or {}
        ok = any(m.rsplit(".", 1)[-1] == verify.raises for m in error.get("mro", []))
        got = describe_error(error) if error else "no exception"
        return Row(item.id, "verify", ok, f"key {item.answer}: raised {got}")
    printed = normalise(str(seen.get("stdout", "")))
    ok = "error" not in seen and printed == normalise(verify.output or "")
    got = describe_error(seen["error"]) if "error" in seen else repr(printed)
    return Row(item.id, "verify", ok, f"key {item.answer}: printed {got}")


def _predict_row(item: PredictItem, grader: Grader) -> Row:
    try:
        key = computed_key(item, grader.sandbox, grader.settings.snippet_cache)
    except SnippetFailed as exc:
        return Row(item.id, "key", False, str(exc))
    return Row(item.id, "key", bool(key), f"computed key {key!r}")


@dataclass(frozen=True)
class Table:
    """The self-test table, printed a line at a time: header, one row per case, summary."""

    item_width: int
    case_width: int

    @classmethod
    def of(cls, plans: Sequence[Plan]) -> Table:
        items = max((len(p.item.id) for p in plans), default=4)
        cases = max((len(c) for p in plans for c in p.cases), default=4)
        return cls(max(items, 4), max(cases, 4))

    def header(self) -> str:
        return f"{'item':<{self.item_width}}  {'case':<{self.case_width}}  ok    detail"

    def line(self, row: Row) -> str:
        verdict = "PASS" if row.ok else "FAIL"
        item, case = f"{row.item:<{self.item_width}}", f"{row.case:<{self.case_width}}"
        return f"{item}  {case}  {verdict}  {row.detail}"

    @staticmethod
    def summary(rows: Sequence[Row]) -> str:
        """The count, then each case not as declared again (the table is long, and a log's tail
        should say which case failed)."""
        bad = [r for r in rows if not r.ok]
        lines = [f"{len(rows)} case(s), {len(rows) - len(bad)} as declared, {len(bad)} not"]
        lines += [f"  not as declared: {r.item} {r.case}: {r.detail}"[:400] for r in bad]
        return "\n".join(lines)
