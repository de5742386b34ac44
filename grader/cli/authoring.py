"""Getting started: `grader init ID` (a student's starter file) and `grader new KIND ID` (an
author's new item). Both parse arguments and call `grader.bank.starter` / `grader.bank.scaffold`;
their imports wait inside the handlers, so `grader --help` loads none of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from grader.cli.options import add_seed_option

KINDS = ("mcq", "numeric", "predict", "code")


def _grader(args: argparse.Namespace) -> str:
    """The command as the user ran it: `grader --bank DIR` when a bank was named."""
    bank = getattr(args, "bank", None)
    return f"grader --bank {bank}" if bank else "grader"


def cmd_init(args: argparse.Namespace) -> int:
    """Write the item's starter as `ID.py` or `ID.ipynb` and say how to check it; a varying
    item's is its variant's, as `grader show` shows it (`--seed`, else this machine's)."""
    from grader.bank import load_bank
    from grader.bank.starter import code_item, output_path, write_starter
    from grader.cli.options import settings_for
    from grader.cli.views import variant_of

    bank = load_bank([settings_for(args).bank])
    item = code_item(variant_of(bank, args.id, args.seed))
    path = output_path(item, args.output, args.notebook)
    write_starter(item, path, force=args.force)
    print(f"wrote {path}: the starter of {item.title!r}")
    named = args.id if item.variant is not None and item.variant.seed is None else item.id
    seed = f" --seed {args.seed}" if args.seed is not None and item.varies else ""
    print(f"next: {_grader(args)} check {named} {path}{seed}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """Scaffold a new item (and a code item's solutions) and print the next steps."""
    from grader.bank import Bank, load_bank
    from grader.bank.scaffold import plan, write
    from grader.cli.options import settings_for

    settings = settings_for(args)
    # A bank folder that does not exist yet is a new, empty bank: its first item makes it.
    bank = load_bank([settings.bank]) if settings.bank.exists() else Bank(root=settings.bank)
    scaffold = plan(bank, settings.solutions, args.kind, args.id, args.topic or args.kind)
    for path in write(scaffold):
        print(f"wrote {path}")
    solutions = settings.solutions / args.id
    for number, step in enumerate(_next_steps(args, scaffold.item, solutions), start=1):
        print(f"{'next:' if number == 1 else '     '} {number}. {step}")
    return 0


def _next_steps(args: argparse.Namespace, item: Path, solutions: Path) -> list[str]:
    grader = _grader(args)
    steps = [f"replace every TODO in {item} (each field: docs/authoring.md)"]
    if args.kind == "code":
        steps.append(
            f"write the reference and wrong solutions in {solutions}/ and declare "
            "each in its expect.yaml"
        )
    steps.append(f"{grader} validate {item}")
    if args.kind in ("code", "predict"):  # what selftest proves: solutions, a computed key
        steps.append(f"{grader} selftest {args.id}")
    steps.append(f"{grader} show {args.id}   (what students see)")
    return steps


def add_authoring_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader init` and `grader new`."""
    p = sub.add_parser("init", help="write a code item's starter file (.py or notebook)")
    p.add_argument("id")
    p.add_argument("--notebook", action="store_true", help="write a Jupyter notebook (.ipynb)")
    p.add_argument("--output", type=Path, metavar="PATH", help="default: ./ID.py or ./ID.ipynb")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    add_seed_option(p)
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("new", help="scaffold a new item that validates (with TODOs)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("id", help="kebab-case id, new to the bank")
    p.add_argument("--topic", help="the folder under the bank (default: the kind's name)")
    # SUPPRESS: without `--bank` here, `grader --bank DIR new ...` keeps the global option's value.
    p.add_argument(
        "--bank", type=Path, metavar="DIR", default=argparse.SUPPRESS, help="the bank to add to"
    )
    p.set_defaults(func=cmd_new)
