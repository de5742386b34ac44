"""The self-test of items that vary (issue 17): every variant of seeds 0..N-1 is proven (a code
item's templated reference passes each, its wrong solutions fail each as declared, with the
reference's values computed per variant), a numeric key renders the same twice, a shuffled mcq's
`verify` proves its key through the shuffle, fixed aliases are proven once each, and a key that
changes between renders or params that never change what students see fail their rows. The
solutions of a varying item are templates, validated at seed 0 with file:line issues."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grader.bank import Bank, load_bank
from grader.bank.solutions import solution_issues
from grader.grading import Grader
from grader.models import McqItem
from grader.ops.selftest import Row, Table, plan, selftest
from grader.settings import GraderSettings
from sandbox.fake import FakeSandbox
from tests.grader.items import write
from tests.grader.variant_items import (
    CODE_ID,
    FIXED_ID,
    NUMERIC,
    NUMERIC_ID,
    code_course,
    numeric_item,
)

SHUFFLED = """\
schema_version: 1
id: shuffled-sum
kind: mcq
title: Two plus two
prompt: What does `print(2 + 2)` print?
difficulty: easy
shuffle: true
choices:
  - {id: three, text: "3", feedback: One short.}
  - {id: four, text: "4", feedback: Right.}
  - {id: five, text: "5", feedback: One over.}
  - {id: none-of-these, text: None of these, fixed: true, feedback: One of them is right.}
answer: B
explanation: Two plus two is four.
verify:
  proves: B
  snippet: print(2 + 2)
  output: "4"
"""


def proven(bank: Bank, tmp_path: Path, solutions: Path, variants: int) -> list[Row]:
    """The self-test's rows for the whole bank, through a local fake sandbox."""
    settings = GraderSettings(bank=bank.root, solutions=solutions, cache=tmp_path / "cache")
    items = sorted(bank.items.values(), key=lambda item: item.id)
    with Grader(bank, FakeSandbox.local(), settings) as grader:
        return list(selftest(plan(bank, items, solutions, variants), grader))


def by_case(rows: list[Row]) -> dict[str, Row]:
    return {row.case: row for row in rows}


def test_a_templated_reference_passes_and_each_wrong_solution_fails_every_variant(
    tmp_path: Path,
) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    assert bank.issues == [] and solution_issues(bank, solutions) == []
    rows = proven(bank, tmp_path, solutions, 4)
    cases = by_case(rows)
    for seed in range(4):
        reference = cases[f"reference.py@seed={seed}"]
        assert reference.ok and reference.detail.startswith("PASSED 4/4"), reference
        assert reference.variant == f"seed={seed}"
        for wrong in ("wrong_plus_one.py", "wrong_unscaled.py"):
            row = cases[f"{wrong}@seed={seed}"]
            assert row.ok and row.detail.startswith("WRONG_ANSWER failed=['scaled', 'secret']")
    assert len(rows) == 4 * 3 + 1 and all(row.ok for row in rows)
    varies = rows[-1]
    assert varies.case == "varies" and varies.ok and "s per variant" in varies.detail
    # The reference's expected values are the variant's: one cache entry per distinct scale.
    scales = {bank.variant(CODE_ID, seed).variant.values["scale"] for seed in range(4)}  # type: ignore[union-attr]
    cached = list((tmp_path / "cache" / "reference").glob(f"{CODE_ID}-*.json"))
    assert len(cached) == len(scales) > 1
    assert sorted(json.loads(p.read_text())["secret"]["result"]["value"] for p in cached) == sorted(
        90 * scale for scale in scales
    )
    summary = Table.summary(rows).splitlines()[0]
    assert summary.startswith("13 case(s), 13 as declared, 0 not; 4 variant(s) of 1 varying item")


def test_a_solution_that_fails_to_render_for_one_variant_fails_that_row_alone(
    tmp_path: Path,
) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    scales = [bank.variant(CODE_ID, seed).variant.values["scale"] for seed in range(4)]  # type: ignore[union-attr]
    broken = scales[2]  # a divisor of zero for this variant only
    assert broken not in (scales[0], scales[1], scales[3])
    wrong = solutions / CODE_ID / "wrong_unscaled.py"
    divisor = f"{{{{ 1 + 0 * (1 // (scale - {broken})) }}}}"  # 1, but no value at all for one
    wrong.write_text(f"def scaled_sum(values):\n    return sum(values) // {divisor}\n")
    rows = by_case(proven(bank, tmp_path, solutions, 4))
    failed = rows["wrong_unscaled.py@seed=2"]
    assert (
        not failed.ok
        and "by zero (ZeroDivisionError)" in failed.detail
        and str(wrong) in failed.detail
    )
    assert ":2:" in failed.detail  # the template's line
    assert all(row.ok for case, row in rows.items() if case != "wrong_unscaled.py@seed=2")


@pytest.mark.parametrize(
    ("reference", "line", "needle"),
    [
        (
            "def scaled_sum(values):\n    return sum(values) * {{ scal }}\n",
            2,
            "unknown name 'scal'",
        ),
        ("def scaled_sum(values):\n    return {{ scale \n", 2, "invalid template"),
        (
            "def scaled_sum(values):\n\n    return {{ 1 // (scale - SCALE) }}\n",
            3,
            "by zero (ZeroDivisionError) (in the variant with seed 0)",
        ),
    ],
    ids=["unknown-name", "syntax", "fails-at-seed-0"],
)
def test_a_solution_template_that_does_not_render_at_seed_0_is_an_issue_at_its_line(
    tmp_path: Path, reference: str, line: int, needle: str
) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    scale = bank.get(CODE_ID).variant.values["scale"]  # type: ignore[union-attr]
    path = solutions / CODE_ID / "reference.py"
    path.write_text(reference.replace("SCALE", str(scale)))
    [issue] = solution_issues(bank, solutions)
    assert str(issue).startswith(f"{path}:{line}:1:") and needle in str(issue), issue
    [row] = proven(bank, tmp_path, solutions, 3)  # the self-test runs nothing of it
    assert (row.case, row.ok) == ("solutions", False) and needle in row.detail


def test_a_numeric_key_is_proven_per_seed_and_per_fixed_alias(tmp_path: Path) -> None:
    numeric_item(tmp_path)
    bank = load_bank([tmp_path])
    rows = proven(bank, tmp_path, tmp_path / "solutions", 3)
    assert [row.case for row in rows] == [
        "key@seed=0",
        "key@seed=1",
        "key@seed=2",
        f"key@{FIXED_ID}",
        "varies",
    ]
    assert all(row.ok for row in rows), rows
    key = bank.variant(NUMERIC_ID, 1).answer  # type: ignore[union-attr]
    assert rows[1].detail == f"key {key!r}, the same rendered twice"
    assert rows[3].detail.startswith("key 0.85,") and rows[3].variant == FIXED_ID
    assert Table.summary(rows).splitlines()[0].endswith("; 1 fixed alias(es)")


def test_a_key_that_renders_differently_each_time_fails_every_variant(tmp_path: Path) -> None:
    # `random` draws from Python's own generator, not the variant's seed: a key that would
    # differ between `grader show` and the grading of the answer.
    unstable = "(range(100000) | random) * 100000 + (range(100000) | random)"
    numeric_item(tmp_path, NUMERIC.replace("(tp / (tp + fp)) | round(3)", f"{unstable} + fp"))
    bank = load_bank([tmp_path])
    assert bank.issues == []
    rows = proven(bank, tmp_path, tmp_path / "solutions", 3)
    renders = [row for row in rows if row.case.startswith("render@")]
    cases = ["render@seed=0", "render@seed=1", "render@seed=2", f"render@{FIXED_ID}"]
    assert [row.case for row in renders] == cases
    assert all(
        not row.ok and "renders differently each time: answer:" in row.detail for row in renders
    )


def test_params_that_never_change_what_students_see_fail_the_varies_row(tmp_path: Path) -> None:
    hidden = NUMERIC.replace("prompt: TP = {{ tp }}, FP = {{ fp }}.", "prompt: TP = 85, FP = 15.")
    static = "explanation: Precision is TP over TP plus FP."
    numeric_item(
        tmp_path, hidden.replace('explanation: "{{ tp }} / ({{ tp }} + {{ fp }})."', static)
    )
    bank = load_bank([tmp_path])
    assert bank.issues == []  # every param is read (by the key): only the self-test sees it
    rows = proven(bank, tmp_path, tmp_path / "solutions", 3)
    varies = rows[-1]
    assert (varies.case, varies.ok) == ("varies", False)
    assert varies.detail.startswith("does not vary over 20 seeds")
    assert all(row.ok for row in rows[:-1])


def test_a_shuffled_mcq_proves_its_key_through_each_shuffle(tmp_path: Path) -> None:
    write(tmp_path, "shuffled-sum", SHUFFLED)
    bank = load_bank([tmp_path])
    assert bank.issues == []
    rows = proven(bank, tmp_path, tmp_path / "solutions", 6)
    verifies = [row for row in rows if row.case.startswith("verify@")]
    assert len(verifies) == 6 and all(row.ok for row in verifies), verifies
    for seed, row in enumerate(verifies):
        item = bank.variant("shuffled-sum", seed)
        assert isinstance(item, McqItem)
        assert row.detail.startswith(f"key {item.answer} (option id: four): printed '4'")
    assert len({row.detail.split()[1] for row in verifies}) > 1  # the key moved with the options
    assert rows[-1].case == "varies" and rows[-1].ok


def test_table_widths_cover_the_variant_names(tmp_path: Path) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    plans = plan(bank, [bank.get(CODE_ID)], solutions, 12)
    table = Table.of(plans)
    assert table.case_width == len("wrong_plus_one.py@seed=11")
    row = Row(CODE_ID, "reference.py@seed=11", True, "PASSED 4/4", "seed=11", 0.5)
    assert table.line(row).split() == [CODE_ID, "reference.py@seed=11", "PASS", "PASSED", "4/4"]


def test_a_seed_that_draws_an_earlier_seeds_values_reuses_its_results(tmp_path: Path) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    scales = [bank.variant(CODE_ID, seed).variant.values["scale"] for seed in range(4)]  # type: ignore[union-attr]
    assert scales[3] == scales[0] and len(set(scales[:3])) == 3  # seed 3 draws seed 0's scale
    settings = GraderSettings(bank=folder, solutions=solutions, cache=tmp_path / "cache")
    sandbox = FakeSandbox.local()
    with Grader(bank, sandbox, settings) as grader:
        rows = by_case(list(selftest(plan(bank, [bank.get(CODE_ID)], solutions, 4), grader)))
        ran = len(sandbox.requests)
    twin = rows["wrong_plus_one.py@seed=3"]
    assert twin.ok and twin.seconds == 0.0
    assert twin.detail == rows["wrong_plus_one.py@seed=0"].detail + " (as seed=0: the same variant)"
    # Three variants graded, each its reference and two wrong solutions, and each reference
    # run once more for the expected values (seed 3 would have added three runs).
    assert ran == 3 * (1 + 2) + 3


def test_cases_graded_at_once_give_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    seen = []
    for jobs, cache in ((1, "one"), (3, "three")):
        settings = GraderSettings(bank=folder, solutions=solutions, cache=tmp_path / cache)
        sandbox = FakeSandbox.local()
        with Grader(bank, sandbox, settings) as grader:
            rows = list(selftest(plan(bank, [bank.get(CODE_ID)], solutions, 4), grader, jobs))
        seen.append(
            ([(r.case, r.ok, r.detail, r.variant) for r in rows[:-1]], len(sandbox.requests))
        )
    assert seen[0] == seen[1]  # the twin (seed 3) is still taken from seed 0, not graded again
    assert seen[0][1] == 3 * (1 + 2) + 3


def test_closing_the_self_test_cancels_the_cases_not_started(tmp_path: Path) -> None:
    folder, solutions = code_course(tmp_path)
    bank = load_bank([folder])
    settings = GraderSettings(bank=folder, solutions=solutions, cache=tmp_path / "cache")
    sandbox = FakeSandbox.local()
    with Grader(bank, sandbox, settings) as grader:
        cases = selftest(plan(bank, [bank.get(CODE_ID)], solutions, 20), grader, 1)
        first = next(cases)
        started = time.monotonic()
        cases.close()  # at once: what runs is the sandbox's to end
        assert time.monotonic() - started < 1.0
        assert first.case == "reference.py@seed=0"
    # The plan running when it closed finished; none after it started (20 plans of 3 cases).
    assert len(sandbox.requests) <= 2 * (1 + 3) + 1
