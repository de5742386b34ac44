"""The bank tests itself: references pass with full marks, wrong solutions fail as declared,
`verify` snippets prove their mcq keys, and predict keys are computed.

`solutions/<id>/expect.yaml` declares the cases:

    reference: reference.py
    wrong:
      - file: wrong_forgot_head.py
        verdict: WRONG_ANSWER
        failed: [output-shape, fc-out-features]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError
from ruamel.yaml import YAML

from grader.errors import BankError, BankIssue, SnippetFailed
from grader.grading import Grader
from grader.grading.checks import normalise
from grader.grading.predict import computed_key
from grader.grading.snippets import run_snippet
from grader.grading.submission import Source
from grader.models import CodeItem, Item, McqItem, PredictItem, Verdict
from grader.models.items import StrictModel
from grader.probe.summaries import describe_error


class WrongCase(StrictModel):
    file: str = Field(description="A wrong solution in the item's solutions folder.")
    verdict: Verdict = Field(description="The verdict it must get.")
    failed: list[str] = Field(default_factory=list, description="Exactly the checks that fail.")


class SolutionSet(StrictModel):
    reference: str = Field(default="reference.py", description="The reference solution.")
    wrong: list[WrongCase] = Field(default_factory=list, description="Solutions that must fail.")


@dataclass(frozen=True)
class Row:
    """One line of the self-test table."""

    item: str
    case: str
    ok: bool
    detail: str


def selftest(items: Iterable[Item], grader: Grader) -> list[Row]:
    """Every item's proofs, graded through `grader` exactly as a student's answer would be."""
    rows: list[Row] = []
    for item in items:
        if isinstance(item, CodeItem):
            rows += _code_rows(item, grader, grader.settings.solutions / item.id)
        elif isinstance(item, McqItem) and item.verify is not None:
            rows.append(_verify_row(item, grader))
        elif isinstance(item, PredictItem):
            rows.append(_predict_row(item, grader))
    return rows


def load_solution_set(folder: Path) -> SolutionSet:
    path = folder / "expect.yaml"
    if not path.is_file():
        return SolutionSet()
    try:
        return SolutionSet.model_validate(YAML(typ="safe").load(path.read_text()))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise BankError([BankIssue(str(path), 1, 1, where, first["msg"])]) from exc


def _code_rows(item: CodeItem, grader: Grader, folder: Path) -> list[Row]:
    cases = load_solution_set(folder)
    reference = grader.grade(item, _source(folder / cases.reference))
    full = reference.passed and reference.score == reference.max_score
    rows = [
        Row(
            item.id,
            cases.reference,
            full,
            f"{reference.verdict.value} {reference.score:g}/{reference.max_score:g}"
            + ("" if full else f" {_failures(reference)}"),
        )
    ]
    for case in cases.wrong:
        report = grader.grade(item, _source(folder / case.file))
        failed = sorted(c.name for c in report.checks if not c.passed)
        ok = report.verdict is case.verdict and failed == sorted(case.failed)
        detail = f"{report.verdict.value} failed={failed}"
        if not ok:
            detail += f" (declared {case.verdict.value} failed={sorted(case.failed)})"
        rows.append(Row(item.id, case.file, ok, detail))
    return rows


def _failures(report: object) -> str:
    checks = getattr(report, "checks", [])
    text = "; ".join(f"{c.name}: {c.message}" for c in checks if not c.passed)
    return text or str(getattr(report, "message", ""))


def _source(path: Path) -> Source:
    return Source(path.read_text(encoding="utf-8"))


def _verify_row(item: McqItem, grader: Grader) -> Row:
    verify = item.verify
    assert verify is not None
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


def table(rows: list[Row]) -> str:
    width = max((len(r.item) for r in rows), default=4)
    cases = max((len(r.case) for r in rows), default=4)
    lines = [f"{'item':<{width}}  {'case':<{cases}}  ok    detail"]
    for r in rows:
        lines.append(
            f"{r.item:<{width}}  {r.case:<{cases}}  {'PASS' if r.ok else 'FAIL'}  {r.detail}"
        )
    bad = sum(not r.ok for r in rows)
    lines.append(f"{len(rows)} case(s), {len(rows) - bad} as declared, {bad} not")
    return "\n".join(lines)
