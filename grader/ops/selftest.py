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

An item that varies is proven on each of its first N seeds' variants and on each fixed alias
(grader/ops/variant_checks.py): its cases run on every variant, rendered (solutions too) with
that variant's values, and each row names it (`reference.py@seed=3`, `key@old-id`). A numeric
or mcq key is proven stable (rendered twice, the same); a last row, `varies`, says whether the
seeds give students different views, and how long a variant took to prove. A variant that renders
to the same item as an earlier one (the same values drawn) gets that one's results, said so in
its rows, without grading it again.

A code item whose checks draw their inputs per run is graded on one seed of its pool, at random,
as a student is; `--every-draw` grades each of its cases on every seed of the pool (the row says
which draws gave what), so a check that a wrong solution fails on some draws only is found
before a run happens to draw the other kind (`sometimes` in `expect.yaml`). The pool is this
installation's (keyed by its secret): another installation draws 8 other seeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from grader.bank import Bank
from grader.bank.solutions import item_solution_issues, read_solution_set, solution_source
from grader.errors import BadInput, BankError, BankIssue, SnippetFailed
from grader.grading import Grader
from grader.grading.checks import normalise
from grader.grading.predict import computed_key
from grader.grading.reference import POOL
from grader.grading.snippets import run_snippet
from grader.grading.submission import Source
from grader.models import CodeItem, Item, McqItem, NumericItem, PredictItem, Report, Verdict
from grader.models.expect import EXPECT_FILE, SolutionSet, WrongCase
from grader.ops.variant_checks import Rendered, variants_of, variation
from grader.probe.summaries import describe_error

#: The case name of the rows that say why an item's solutions could not be run.
SOLUTIONS_CASE = "solutions"
#: The case of the row that says whether a varying item's variants differ.
VARIES_CASE = "varies"
#: How a seeded variant's label starts (a fixed alias's is its id).
SEEDED = "seed="
#: Verdicts a busy host can cause rather than the solution: a case that gets one where another
#: was declared is graded once more, and its row says so.
HOST_VERDICTS = (Verdict.TIME_LIMIT, Verdict.INTERNAL_ERROR)


@dataclass(frozen=True)
class Row:
    """One line of the self-test table; `variant` names the variant it proves (`seed=3`, a
    fixed alias's id; "" for an item that does not vary), `seconds` how long it ran."""

    item: str
    case: str
    ok: bool
    detail: str
    variant: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """One item's (or one variant's) cases, in the order they run; `issues`: its solutions
    cannot be run; `rows`: rows decided while planning, with nothing to run; `draws`: the
    seeds of the item's pool each code case is graded on (None: one at random)."""

    item: Item
    cases: tuple[str, ...]
    solutions: SolutionSet | None = None
    issues: tuple[BankIssue, ...] = ()
    variant: str = ""
    rows: tuple[Row, ...] = ()
    twin: str = ""
    draws: tuple[int | None, ...] = (None,)

    def case(self, name: str) -> str:
        """The row's name of a case: `reference.py@seed=3` in a variant's plan."""
        return _named(name, self.variant)


def _named(case: str, variant: str) -> str:
    return f"{case}@{variant}" if variant else case


def _decided(item: Item, row: Row) -> Plan:
    return Plan(item, (row.case,), variant=row.variant, rows=(row,))


def plan(
    bank: Bank, items: Iterable[Item], solutions: Path, variants: int = 1, every_draw: bool = False
) -> list[Plan]:
    """What the self-test of `items` (of `bank`) will run, read before anything runs; an item
    that varies on seeds 0..`variants`-1 and its fixed aliases; with `every_draw`, a code item
    whose inputs are drawn per run on each seed of its pool."""
    plans = []
    for item in items:
        if item.varies:
            plans += _variant_plans(bank, item, solutions, variants)
        elif isinstance(item, CodeItem):
            plans.append(_code_plan(bank, item, solutions / item.id))
        else:
            plans += _snippet_plans(item, "")
    return [_on_every_draw(p) for p in plans] if every_draw else plans


def _on_every_draw(planned: Plan) -> Plan:
    item = planned.item
    drawn = isinstance(item, CodeItem) and item.draws_inputs
    if drawn and planned.solutions is not None:
        return replace(planned, draws=tuple(range(POOL)))
    return planned


def _snippet_plans(item: Item, variant: str) -> list[Plan]:
    """An mcq's `verify` run, a predict item's key computed: what runs for a non-code item."""
    if isinstance(item, McqItem) and item.verify is not None:
        return [Plan(item, (_named("verify", variant),), variant=variant)]
    if isinstance(item, PredictItem):
        return [Plan(item, (_named("key", variant),), variant=variant)]
    return []


def _code_plan(bank: Bank, item: CodeItem, folder: Path) -> Plan:
    issues = item_solution_issues(bank, item, folder)
    if issues:
        return Plan(item, (SOLUTIONS_CASE,) * len(issues), issues=tuple(issues))
    cases = load_solution_set(folder)
    return Plan(item, (cases.reference, *(case.file for case in cases.wrong)), solutions=cases)


def _variant_plans(bank: Bank, item: Item, solutions: Path, count: int) -> list[Plan]:
    """A varying item's cases on each variant, then its `varies` row. A code item's solutions
    folder is checked once (at seed 0, as `grader validate` does): with problems, its rows
    are the self-test of the item."""
    cases = None
    if isinstance(item, CodeItem):
        checked = _code_plan(bank, item, solutions / item.id)
        if checked.issues:
            return [checked]
        cases = checked.solutions
    plans = [
        plan for rendered in variants_of(item, count) for plan in _proofs(rendered, item, cases)
    ]
    varies, detail = variation(item, count)
    return [*plans, _decided(item, Row(item.id, VARIES_CASE, varies, detail))]


def _proofs(rendered: Rendered, item: Item, cases: SolutionSet | None) -> list[Plan]:
    """One variant's plans: its solutions or snippet, or a row for its key, or a failing row
    when it does not render (the same twice)."""
    variant, shown = rendered.label, rendered.item
    if shown is None:
        return [
            _decided(
                item, Row(item.id, _named("render", variant), False, rendered.problem, variant)
            )
        ]
    if isinstance(shown, CodeItem) and cases is not None:
        names = (cases.reference, *(case.file for case in cases.wrong))
        named = tuple(_named(n, variant) for n in names)
        return [Plan(shown, named, cases, variant=variant, twin=rendered.twin)]
    planned = _snippet_plans(shown, variant)
    if planned:
        return [replace(plan, twin=rendered.twin) for plan in planned]
    detail = f"key {_key_text(shown)}, the same rendered twice"
    return [_decided(shown, Row(item.id, _named("key", variant), True, detail, variant))]


def _key_text(item: Item) -> str:
    """A numeric or mcq key as a row shows it (an mcq's with its option id when shuffled)."""
    if isinstance(item, NumericItem):
        return f"{item.answer!r}"
    if isinstance(item, McqItem) and item.answer is not None:
        ids = item.variant.choices if item.variant is not None else None
        index = item.letters.index(item.answer)
        return item.answer + (f" (option id: {ids[index]})" if ids else "")
    return "none"


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


#: What a case gives: whether it is as declared, and the row's detail.
Outcome = tuple[bool, str]
#: What a code case gives on one draw: its outcome and the checks it failed.
Drawn = tuple[bool, str, frozenset[str]]


def selftest(plans: Iterable[Plan], grader: Grader, jobs: int = 1) -> Generator[Row]:
    """Every planned case, graded through `grader` exactly as a student's answer would be, its
    row in the plans' order as it finishes: one case at a time (`jobs` 1: each row before the
    next case runs), or `jobs` plans at once (each plan's rows when it is done). Closing the
    iterator (an interrupt) starts nothing more and waits for nothing: closing the grader's
    sandbox ends what runs."""
    spent: dict[str, dict[str, float]] = {}  # a varying item's seconds, by seeded variant
    done: dict[tuple[str, str], list[Row]] = {}  # a varying item's rows, by variant
    with closing(_planned_rows(list(plans), grader, jobs)) as planned_rows:
        for planned, rows in planned_rows:
            # a twin's rows are its twin's, an earlier plan's: taken in order, never run
            yield from _noted(_twin_rows(planned, done) if planned.twin else rows, spent, done)


def _planned_rows(
    plans: list[Plan], grader: Grader, jobs: int
) -> Generator[tuple[Plan, Iterable[Row]]]:
    """Each plan with its rows, in order: graded as they are read (one job), else by a pool
    of `jobs` threads that runs ahead. A twin gets none."""
    if jobs == 1:
        for planned in plans:
            yield planned, () if planned.twin else _rows(planned, grader)
        return
    pool = ThreadPoolExecutor(jobs, thread_name_prefix="selftest")
    try:
        running = [None if p.twin else pool.submit(_all_rows, p, grader) for p in plans]
        for planned, future in zip(plans, running, strict=True):
            yield planned, () if future is None else future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _all_rows(planned: Plan, grader: Grader) -> list[Row]:
    return list(_rows(planned, grader))


def _noted(
    rows: Iterable[Row], spent: dict[str, dict[str, float]], done: dict[tuple[str, str], list[Row]]
) -> Iterator[Row]:
    """The rows, each kept for the twins that repeat it and timed into its item's variation."""
    for row in rows:
        if row.variant:
            done.setdefault((row.item, row.variant), []).append(row)
        if row.variant.startswith(SEEDED):
            took = spent.setdefault(row.item, {})
            took[row.variant] = took.get(row.variant, 0.0) + row.seconds
        yield _timed_variation(row, spent) if row.case == VARIES_CASE else row


def _rows(planned: Plan, grader: Grader) -> Iterator[Row]:
    item = planned.item
    if planned.rows:
        yield from planned.rows
    elif planned.issues:
        yield from (Row(item.id, SOLUTIONS_CASE, False, str(i)) for i in planned.issues)
    elif isinstance(item, CodeItem) and planned.solutions is not None:
        yield from _code_rows(planned, item, grader, planned.solutions)
    elif isinstance(item, McqItem):
        yield _case(planned, "verify", lambda: _verify(item, grader))
    elif isinstance(item, PredictItem):
        yield _case(planned, "key", lambda: _predicted(item, grader))


def _twin_rows(planned: Plan, done: dict[tuple[str, str], list[Row]]) -> Iterator[Row]:
    """The rows of a variant that renders to the same item as its twin, from the twin's: the
    same item graded again would get the same verdicts (rendering is proven deterministic)."""
    for row in done.get((planned.item.id, planned.twin), []):
        case = planned.case(row.case.removesuffix(f"@{planned.twin}"))
        detail = f"{row.detail} (as {planned.twin}: the same variant)"
        yield replace(row, case=case, detail=detail, variant=planned.variant, seconds=0.0)


def _case(planned: Plan, case: str, run: Callable[[], Outcome]) -> Row:
    """The row of one case, timed; a variant whose solution does not render (a template that
    fails for its values) fails its row, not the self-test."""
    started = time.perf_counter()
    try:
        ok, detail = run()
    except BadInput as exc:
        ok, detail = False, str(exc)
    took = time.perf_counter() - started
    return Row(planned.item.id, planned.case(case), ok, detail, planned.variant, took)


def _timed_variation(row: Row, spent: dict[str, dict[str, float]]) -> Row:
    """The `varies` row, with how long one variant of the item took to prove (its cases'
    time, averaged over its seeds): what each seed of `--variants` adds to the self-test."""
    took = spent.get(row.item)
    if not took:
        return row
    each = sum(took.values()) / len(took)
    return replace(row, detail=f"{row.detail}; {each:.2f} s per variant")


def _code_rows(planned: Plan, item: CodeItem, grader: Grader, cases: SolutionSet) -> Iterator[Row]:
    folder = grader.settings.solutions / item.id
    reference = partial(_reference, grader, item, folder / cases.reference)
    yield _case(planned, cases.reference, partial(_on_draws, planned.draws, reference))
    for case in cases.wrong:
        wrong = partial(_wrong, grader, item, folder, case)
        yield _case(planned, case.file, partial(_on_draws, planned.draws, wrong))


def _on_draws(draws: Sequence[int | None], graded: Callable[[int | None], Drawn]) -> Outcome:
    """A case graded on each draw (one after another): as declared on all of them, the checks
    it failed on some draws only (an author's `sometimes`, or a reference that is not
    deterministic) first, then which draws gave what."""
    if len(draws) == 1:
        return graded(draws[0])[:2]
    outcomes = [_drawn(graded, draw) for draw in draws]
    details: dict[str, list[int | None]] = {}
    for draw, (_, detail, _) in zip(draws, outcomes, strict=True):
        details.setdefault(detail, []).append(draw)
    ok = all(outcome[0] for outcome in outcomes)
    if len(details) == 1:
        return ok, f"{outcomes[0][1]} (all {len(draws)} draws)"
    text = "; ".join(f"draws {_listed(on)}: {detail}" for detail, on in details.items())
    failed = [outcome[2] for outcome in outcomes]
    unsteady = sorted(frozenset.union(*failed) - frozenset.intersection(*failed))
    return ok, (f"failed on some draws only: {unsteady}; " if unsteady else "") + text


def _drawn(graded: Callable[[int | None], Drawn], draw: int | None) -> Drawn:
    """One draw's outcome; a solution that does not render fails that draw's part of the row."""
    try:
        return graded(draw)
    except BadInput as exc:
        return False, str(exc), frozenset()


def _listed(draws: list[int | None]) -> str:
    return ",".join(str(draw) for draw in draws)


def _reference(grader: Grader, item: CodeItem, path: Path, draw: int | None = None) -> Drawn:
    """The reference passes with full marks."""
    reference, retried = _grade(grader, item, _source(item, path), Verdict.PASSED, draw)
    full = reference.passed and reference.score == reference.max_score
    score = f"{reference.verdict.value} {reference.score:g}/{reference.max_score:g}"
    detail = score + ("" if full else f" {_failures(reference)}") + retried
    return full, detail, _failed(reference)


def _wrong(
    grader: Grader, item: CodeItem, folder: Path, case: WrongCase, draw: int | None = None
) -> Drawn:
    """A wrong solution gets the verdict and fails the checks `expect.yaml` declares."""
    source = _source(item, folder / case.file)
    report, retried = _grade(grader, item, source, case.verdict, draw)
    ok, detail = _as_declared(case, report)
    return ok, detail + retried, _failed(report)


def _failed(report: Report) -> frozenset[str]:
    return frozenset(check.name for check in report.checks if not check.passed)


def _grade(
    grader: Grader, item: CodeItem, source: Source, declared: Verdict, draw: int | None = None
) -> tuple[Report, str]:
    """The case's report; graded a second time when the first got a verdict a busy host can
    cause (a time limit, a sandbox failure) where another was declared. The second report
    stands, and the returned note says the case was retried and why."""
    report = grader.grade(item, source, draw=draw)
    if report.verdict not in HOST_VERDICTS or report.verdict is declared:
        return report, ""
    first = report.verdict.value
    return grader.grade(item, source, draw=draw), f" (graded twice: the first run got {first})"


def _as_declared(case: WrongCase, report: Report) -> Outcome:
    """The verdict, every check of `failed`, and nothing else but `sometimes` checks (which fail
    on some draws of their inputs only)."""
    failed = sorted(_failed(report))
    always, sometimes = set(case.failed), set(case.sometimes)
    ok = report.verdict is case.verdict and always <= set(failed) <= always | sometimes
    detail = f"{report.verdict.value} failed={failed}"
    if not ok:
        declared = f"failed={sorted(always)}" + (
            f" sometimes={sorted(sometimes)}" if sometimes else ""
        )
        detail += f" (declared {case.verdict.value} {declared})"
    return ok, detail


def _failures(report: Report) -> str:
    text = "; ".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)
    return text or str(report.message or "")


def _source(item: CodeItem, path: Path) -> Source:
    """A solution as it runs for `item`: a varying item's rendered with its variant's values."""
    return Source(solution_source(item, path))


def _verify(item: McqItem, grader: Grader) -> Outcome:
    """The snippet's run proves the choice it names, and that choice is the key."""
    verify = item.verify
    assert verify is not None
    if verify.proves != item.answer:
        return False, (
            f"key {item.answer}, but verify proves {verify.proves}: "
            "fix `answer` or the snippet and its `proves`"
        )
    try:
        seen = run_snippet(grader.sandbox, verify.snippet, cache=grader.settings.snippet_cache)
    except SnippetFailed as exc:
        return False, str(exc)
    if verify.raises is not None:
        error = seen.get("error") or {}
        ok = any(m.rsplit(".", 1)[-1] == verify.raises for m in error.get("mro", []))
        got = describe_error(error) if error else "no exception"
        return ok, f"key {_key_text(item)}: raised {got}"
    printed = normalise(str(seen.get("stdout", "")))
    ok = "error" not in seen and printed == normalise(verify.output or "")
    got = describe_error(seen["error"]) if "error" in seen else repr(printed)
    return ok, f"key {_key_text(item)}: printed {got}"


def _predicted(item: PredictItem, grader: Grader) -> Outcome:
    try:
        key = computed_key(item, grader.sandbox, grader.settings.snippet_cache)
    except SnippetFailed as exc:
        return False, str(exc)
    return bool(key), f"computed key {key!r}"


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
        counts = f"{len(rows)} case(s), {len(rows) - len(bad)} as declared, {len(bad)} not"
        lines = [counts + _variants_summary(rows)]
        lines += [f"  not as declared: {r.item} {r.case}: {r.detail}"[:400] for r in bad]
        return "\n".join(lines)


def _variants_summary(rows: Sequence[Row]) -> str:
    """`; 40 variant(s) of 2 varying item(s), 0.85 s each; 3 fixed alias(es)` ("" when no
    item varies)."""
    seeded = {(r.item, r.variant) for r in rows if r.variant.startswith(SEEDED)}
    fixed = {(r.item, r.variant) for r in rows if r.variant and not r.variant.startswith(SEEDED)}
    if not seeded and not fixed:
        return ""
    items = {item for item, _ in seeded | fixed}
    took = sum(r.seconds for r in rows if r.variant.startswith(SEEDED))
    each = f", {took / len(seeded):.2f} s each" if seeded else ""
    text = f"; {len(seeded)} variant(s) of {len(items)} varying item(s){each}"
    return text + (f"; {len(fixed)} fixed alias(es)" if fixed else "")
