"""CLI commands that grade code: `check`, `selftest`, and predict answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.bank import load_bank
from grader.errors import BadInput
from grader.grading.code import grade_code
from grader.grading.predict import grade_prediction
from grader.grading.reference import ReferenceStore
from grader.grading.submission import read_submission
from grader.models import CodeItem, PredictItem, Report
from grader.ops.selftest import selftest, table
from grader.workspace import default_solutions_dir, item_data, sandbox_for
from sandbox.backends import BACKENDS, wait_warm


def check_file(item_id: str, path: Path, backend: str | None, bank: Path | None) -> Report:
    """Grade a .py or .ipynb file for a code item."""
    item = load_bank([bank] if bank else None).get(item_id)
    if not isinstance(item, CodeItem):
        raise BadInput(
            f"{item_id!r} is a {item.kind} item; answer it with `grader answer {item_id} ...`"
        )
    source = read_submission(path)
    sandbox = sandbox_for(backend)
    try:
        data = item_data(item)
        store = ReferenceStore(sandbox, default_solutions_dir(), data=data)
        return grade_code(item, source, sandbox, store, data)
    finally:
        sandbox.close()


def answer_prediction(item: PredictItem, raw: str, backend: str | None) -> Report:
    sandbox = sandbox_for(backend)
    try:
        return grade_prediction(item, raw, sandbox)
    finally:
        sandbox.close()


def cmd_selftest(args: argparse.Namespace) -> int:
    bank = load_bank([args.bank] if args.bank else None)
    items = [bank.get(i) for i in args.ids] if args.ids else list(bank.items.values())
    sandbox = sandbox_for(args.backend)
    wait_warm(sandbox)  # the self-test runs on the warm path where the backend has one
    try:
        rows = selftest(sorted(items, key=lambda i: i.id), sandbox, default_solutions_dir())
    finally:
        sandbox.close()
    print(table(rows))
    if bank.issues:
        print(
            f"error: {len(bank.issues)} problem(s) in the bank; run `grader validate`",
            file=sys.stderr,
        )
        return 2
    return 0 if all(r.ok for r in rows) else 1


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=BACKENDS, help="sandbox backend (default: $GRADER_BACKEND or process)"
    )
