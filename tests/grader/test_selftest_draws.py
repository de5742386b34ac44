"""Checks on inputs drawn per run: a wrong solution that fails one on some draws only is declared
with `sometimes`, and `grader selftest --every-draw` grades each case on every seed of the pool,
saying which draws gave what and which checks failed on some draws only."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.grading import Grader
from grader.grading.reference import POOL
from grader.ops.selftest import Row, plan, selftest
from grader.settings import GraderSettings
from sandbox.fake import FakeSandbox
from tests.grader.items import write

ITEM_ID = "parity-of"
ITEM = """\
schema_version: 1
id: parity-of
kind: code
title: Parity
prompt: Define parity(n), 1 for odd n and 0 for even n.
difficulty: easy
explanation: n % 2.
starter: "def parity(n): ..."
contract: [{name: parity, signature: "parity(n) -> int"}]
checks:
  - name: four
    message: parity(4) is 0.
    call: {function: parity, args: [4]}
    expect: {value: 0}
  - name: drawn
    message: The parity of the run's own number.
    exec: "result = parity(SEED)"
    expect: {value: {from: reference}}
"""
REFERENCE = "def parity(n):\n    return n % 2\n"
#: Right on every odd draw: `drawn` fails on the even ones only.
WRONG = "def parity(n):\n    return 1\n"
EXPECT = """\
reference: reference.py
wrong:
  - file: wrong_always_one.py
    verdict: WRONG_ANSWER
    failed: [four{drawn}]
"""
#: A seed key whose pool of 8 seeds holds both odd and even ones (fixed, so the test is too).
SEED_KEY = "00" * 32


def course(tmp_path: Path, expect: str) -> tuple[Path, Path]:
    bank = tmp_path / "bank"
    bank.mkdir()
    write(bank, ITEM_ID, ITEM)
    folder = tmp_path / "solutions" / ITEM_ID
    folder.mkdir(parents=True)
    (folder / "reference.py").write_text(REFERENCE)
    (folder / "wrong_always_one.py").write_text(WRONG)
    (folder / "expect.yaml").write_text(expect)
    return bank, tmp_path / "solutions"


def rows_of(tmp_path: Path, expect: str, every_draw: bool) -> tuple[list[Row], list[int], int]:
    """The self-test's rows, the parity of each seed of the item's pool, and the runs made."""
    folder, solutions = course(tmp_path, expect)
    bank = load_bank([folder])
    settings = GraderSettings(bank=folder, solutions=solutions, cache=tmp_path / "cache")
    settings.reference_cache.mkdir(parents=True)
    (settings.reference_cache / "seed-key").write_text(SEED_KEY)
    item = bank.items[ITEM_ID]
    sandbox = FakeSandbox.local()
    with Grader(bank, sandbox, settings) as grader:
        parities = [seed % 2 for seed in grader.references.seeds(item)]  # type: ignore[arg-type]
        planned = plan(bank, [item], solutions, every_draw=every_draw)
        return list(selftest(planned, grader)), parities, len(sandbox.requests)


def test_every_draw_names_the_checks_failed_on_some_draws_only(tmp_path: Path) -> None:
    rows, parities, _ = rows_of(tmp_path, EXPECT.format(drawn=", drawn"), every_draw=True)
    assert set(parities) == {0, 1}  # the fixed key's pool draws both kinds
    reference, wrong = rows
    assert reference.ok and reference.detail == f"PASSED 2/2 (all {POOL} draws)"
    assert not wrong.ok  # declared failing `drawn` always: the odd draws say otherwise
    odd = ",".join(str(k) for k, parity in enumerate(parities) if parity)
    assert f"draws {odd}: WRONG_ANSWER failed=['four'] (declared WRONG_ANSWER" in wrong.detail
    assert wrong.detail.startswith("failed on some draws only: ['drawn']; draws ")


def test_sometimes_holds_on_every_draw(tmp_path: Path) -> None:
    expect = EXPECT.format(drawn="]\n    sometimes: [drawn")
    rows, _, _ = rows_of(tmp_path, expect, every_draw=True)
    assert all(row.ok for row in rows), rows
    assert rows[1].detail.startswith("failed on some draws only: ['drawn']")


@pytest.mark.parametrize(("every_draw", "gradings"), [(False, 2), (True, 2 * POOL)])
def test_without_every_draw_a_case_is_graded_once(
    tmp_path: Path, every_draw: bool, gradings: int
) -> None:
    expect = EXPECT.format(drawn="]\n    sometimes: [drawn")
    rows, _, runs = rows_of(tmp_path, expect, every_draw=every_draw)
    assert all(row.ok for row in rows), rows
    assert runs == gradings + 1  # and one reference run for the whole pool's expected values
    assert ("draws" in rows[1].detail) is every_draw
