"""Small varying items for the CLI and self-test tests: a numeric item whose confusion counts
are drawn (with a fixed alias keeping an old id's numbers), and a code item whose scale is drawn,
with templated solutions."""

from __future__ import annotations

from pathlib import Path

from tests.grader.items import write

NUMERIC_ID = "precision-drawn"
#: A former id naming one fixed variant: TP = 85, FP = 15, key 0.85.
FIXED_ID = "precision-85-15"
NUMERIC = """\
schema_version: 1
id: precision-drawn
kind: numeric
title: Precision from drawn counts
prompt: TP = {{ tp }}, FP = {{ fp }}. Precision, to 3 decimals?
difficulty: medium
params:
  tp: {int: [50, 99]}
  fp: {int: [1, 49]}
aliases:
  - {id: precision-85-15, params: {tp: 85, fp: 15}}
answer: "{{ (tp / (tp + fp)) | round(3) }}"
tolerance:
  absolute: 0.0005
explanation: "{{ tp }} / ({{ tp }} + {{ fp }})."
"""

CODE_ID = "scaled-sum"
CODE = """\
schema_version: 1
id: scaled-sum
kind: code
title: A scaled sum
prompt: Define scaled_sum(values), the sum of the values times {{ scale }}.
difficulty: easy
explanation: Sum, then multiply by {{ scale }}.
starter: "def scaled_sum(values): ..."
params:
  scale: {int: [2, 9]}
contract: [{name: scaled_sum, signature: "scaled_sum(values) -> int"}]
limits: {wall_s: 10}
checks:
  - name: scaled
    points: 2
    message: scaled_sum([1, 2, 3]) is {{ 6 * scale }}.
    call: {function: scaled_sum, args: [[1, 2, 3]]}
    expect: {value: "{{ 6 * scale }}"}
  - name: secret
    points: 2
    hidden: true
    message: A hidden case.
    call: {function: scaled_sum, args: [[10, 20, 60]]}
    expect: {value: {from: reference}}
"""
REFERENCE = "def scaled_sum(values):\n    return sum(values) * {{ scale }}\n"
#: Wrong on every variant: one more than the scale (a template too).
WRONG_TEMPLATED = "def scaled_sum(values):\n    return sum(values) * ({{ scale }} + 1)\n"
#: Wrong on every variant: no scale at all (the scale is at least 2).
WRONG_PLAIN = "def scaled_sum(values):\n    return sum(values)\n"
EXPECT = """\
reference: reference.py
wrong:
  - {file: wrong_plus_one.py, verdict: WRONG_ANSWER, failed: [scaled, secret]}
  - {file: wrong_unscaled.py, verdict: WRONG_ANSWER, failed: [scaled, secret]}
"""


def numeric_item(folder: Path, text: str = NUMERIC) -> Path:
    return write(folder, NUMERIC_ID, text)


def code_course(tmp_path: Path) -> tuple[Path, Path]:
    """A bank folder holding the varying code item, and its solutions folder."""
    bank = tmp_path / "bank"
    bank.mkdir(exist_ok=True)
    write(bank, CODE_ID, CODE)
    solutions = tmp_path / "solutions"
    folder = solutions / CODE_ID
    folder.mkdir(parents=True)
    (folder / "reference.py").write_text(REFERENCE)
    (folder / "wrong_plus_one.py").write_text(WRONG_TEMPLATED)
    (folder / "wrong_unscaled.py").write_text(WRONG_PLAIN)
    (folder / "expect.yaml").write_text(EXPECT)
    return bank, solutions
