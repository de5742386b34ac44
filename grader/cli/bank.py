"""`grader bank export --student DIR`: the bank students may have (see `grader.bank.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from grader.cli.options import settings_for


def cmd_bank_export(args: argparse.Namespace) -> int:
    """Export the bank (`--bank`, else the default) and say what went and what stayed out."""
    from grader.bank import load_bank
    from grader.bank.export import export_student_bank

    bank = load_bank([settings_for(args).bank])
    written = export_student_bank(bank, args.student)
    print(
        f"exported {len(bank.items)} item(s) in {len(written)} file(s) to {args.student}; "
        "keys, explanations, hidden checks and solutions stayed out"
    )
    return 0


def add_bank_export_command(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader bank export`: its own group, so more bank actions can join it."""
    bank = sub.add_parser("bank", help="whole-bank actions")
    actions = bank.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("export", help="write the student bank (no keys or hidden checks)")
    p.add_argument(
        "--student",
        type=Path,
        required=True,
        metavar="DIR",
        help="new or empty folder for the student bank",
    )
    p.set_defaults(func=cmd_bank_export)
