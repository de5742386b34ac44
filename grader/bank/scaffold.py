"""`grader new KIND ID`: a new item that passes `grader validate` as written, TODOs marked.

Each kind's template is a complete, valid item whose placeholders say what to write; a code item
also gets a working solutions folder (a reference, one wrong solution and `expect.yaml`), so
`grader selftest ID` passes before the author changes anything and keeps passing as each part is
replaced. Nothing is written unless every file can be: an existing id, item file or solutions
folder is refused first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.bank import Bank, load_item
from grader.errors import BadInput, GraderError
from grader.models.items import KEBAB

PLACEHOLDER = "ITEM_ID"
HEADER = """\
# yaml-language-server: $schema=../question.schema.json
# A new item: replace every TODO (each field: docs/authoring.md), then `grader validate`.
schema_version: 1
id: ITEM_ID
"""
COMMON = """\
title: TODO A short title for `grader list`
difficulty: easy             # TODO: easy, medium or hard
tags: [todo]                 # TODO: kebab-case topics, for `grader list --tag`
"""

MCQ = """\
prompt: |
  TODO: the question, in Markdown.
points: 1
choices:                     # lettered A, B, C... in this order; 2 to 8 of them
  - text: TODO the right answer
    feedback: TODO why it is right (shown when it is chosen)
  - text: TODO a plausible wrong answer
    feedback: TODO why it is wrong
answer: A                    # TODO: the letter of the right choice
# verify: optional code whose run proves the key (`grader selftest`): see docs/authoring.md
explanation: |
  TODO: why the key is right, shown after answering.
"""

NUMERIC = """\
prompt: |
  TODO: the question, in Markdown; say the precision you expect (e.g. to 3 decimals).
points: 1
answer: 0.85                 # TODO: the value; students may answer 0.85 or 85%
tolerance: {absolute: 0.005} # TODO: or {relative: 0.01}
explanation: |
  TODO: how the value is computed, shown after answering.
"""

PREDICT = """\
prompt: |
  TODO: What does this snippet print?
points: 1
snippet: |                   # TODO: shown to students and run: its output is the key
  import torch

  x = torch.zeros(2, 3)
  print(x.shape)
answer_type: shape           # `shape`: compared as integer tuples; `text`: as printed
limits: {wall_s: 60, memory_mb: 2048, gpu: none}
explanation: |
  TODO: why it prints that, shown after answering.
"""

CODE = """\
prompt: |
  TODO: the task, in Markdown: what to write, its inputs, what it returns.

  Write `scale(x, factor)` that returns the tensor `x` multiplied by the number `factor`.
# points: left out, the item is worth the sum of its checks' points (here 4 + 6)
starter: |                   # TODO: the code students start from (`grader init ITEM_ID`)
  import torch


  def scale(x, factor):
      ...
contract:                    # the names the submission defines
  - name: scale
    signature: "scale(x: torch.Tensor, factor: float) -> torch.Tensor"
    description: TODO what it must do.
limits: {wall_s: 60, memory_mb: 2048, gpu: none}
checks:
  # Written-out values are public: students see the check and, when it fails, the value.
  - name: small-input
    points: 4
    message: TODO what this check is about, in a teacher's words.
    hint: TODO shown when the check fails.
    call:
      function: scale
      args: [{$tensor: [1.0, 2.0, 3.0]}, 2]
    expect: {value: [2.0, 4.0, 6.0], tolerance: {absolute: 1.0e-6}}
  # A value a submission could simply claim proves nothing: every code item needs a check on
  # inputs drawn afresh each run and judged against the reference (or `conforms`, `accuracy`).
  - name: random-input
    points: 6
    hidden: true
    message: TODO what this check is about (its expected values stay hidden).
    hint: TODO shown when the check fails.
    call:
      function: scale
      args: [{$randn: [4, 3]}, 0.5]
    expect: {shape: [4, 3], value: {from: reference}, tolerance: {absolute: 1.0e-5}}
explanation: |
  TODO: a model solution and why, shown after answering.
"""

TEMPLATES = {"mcq": MCQ, "numeric": NUMERIC, "predict": PREDICT, "code": CODE}

REFERENCE = """\
# The reference solution: it must get full marks (`grader selftest ITEM_ID`), and the values of
# `from: reference` checks are its own, on the same inputs drawn for each run.
import torch


def scale(x, factor):
    return x * factor
"""

WRONG = """\
# A wrong solution students are likely to write; expect.yaml declares what it must get.
import torch


def scale(x, factor):
    return x  # TODO: a real mistake; forgets the factor
"""

EXPECT = """\
# What `grader selftest ITEM_ID` must see: the reference passes with full marks, and each wrong
# solution gets exactly this verdict with exactly these checks failed.
reference: reference.py
wrong:
  - file: wrong_forgets_factor.py
    verdict: WRONG_ANSWER
    failed: [small-input, random-input]
"""

SOLUTIONS = {"reference.py": REFERENCE, "wrong_forgets_factor.py": WRONG, "expect.yaml": EXPECT}


@dataclass(frozen=True)
class Scaffold:
    """The files a new item needs, by path, before any is written."""

    item: Path
    files: dict[Path, str]


def plan(bank: Bank, solutions: Path, kind: str, item_id: str, topic: str) -> Scaffold:
    """Where each file goes; `BadInput` for a bad id, an id in use, or a file already there."""
    if kind not in TEMPLATES:
        raise BadInput(f"unknown kind {kind!r}; use one of {', '.join(TEMPLATES)}")
    for name, value in (("id", item_id), ("topic", topic)):
        if not re.fullmatch(KEBAB, value):
            raise BadInput(f"{name} {value!r} is not kebab-case (like resnet18-new-head)")
    _refuse_taken(bank, item_id)
    path = bank.root / topic / f"{item_id}.yaml"
    text = f"{HEADER}kind: {kind}\n{COMMON}{TEMPLATES[kind]}"
    files = {path: text.replace(PLACEHOLDER, item_id)}
    if kind == "code":
        folder = solutions / item_id
        if folder.exists():
            raise BadInput(f"{folder} exists; remove it or choose another id")
        files |= {
            folder / name: text.replace(PLACEHOLDER, item_id) for name, text in SOLUTIONS.items()
        }
    return Scaffold(path, files)


def _refuse_taken(bank: Bank, item_id: str) -> None:
    """An id is taken by a valid item, a broken one, an item's former id (`aliases:`), or any
    file of that name in the bank."""
    if item_id in bank.aliases:
        raise BadInput(f"{item_id!r} is a former id of {bank.aliases[item_id]!r}; choose another")
    if item_id in bank.items or item_id in bank.broken:
        where = bank.paths.get(item_id)
        raise BadInput(
            f"id {item_id!r} exists" + (f" ({where})" if where else "") + "; choose another"
        )
    for existing in bank.root.rglob(f"{item_id}.y*ml"):
        raise BadInput(f"{existing} exists; choose another id")


def write(scaffold: Scaffold) -> list[Path]:
    """Write every file, then check the item as `grader validate` does: a template that does
    not validate is the grader's fault (exit 3), never the author's."""
    for path, text in scaffold.files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"{path}: cannot write the file ({exc.strerror})") from exc
    _, issues = load_item(scaffold.item)
    if issues:
        raise GraderError(f"the new item does not validate (a grader bug): {issues[0]}")
    return list(scaffold.files)
