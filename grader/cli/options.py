"""Options several commands share, declared without importing what they name.

The parser is built on every run (`--help`, `list`, a typo), so nothing here may import
pydantic, the sandboxes or the service: choices defined there are written out here, and the
settings are read when a command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.settings import GraderSettings


#: The choices the parser offers, written out so that building it imports nothing; each equals
#: its source (tests/grader/test_cli_startup.py checks): sandbox.backends.BACKENDS,
#: grader.models.Difficulty, grader.models.Verdict, grader.variants.seeds.SEED_SPACE.
SEED_SPACE = 2**32
BACKENDS = ("process", "docker")
DIFFICULTIES = ("easy", "medium", "hard")
VERDICTS = (
    "PASSED",
    "WRONG_ANSWER",
    "RUNTIME_ERROR",
    "TIME_LIMIT",
    "MEMORY_LIMIT",
    "OUTPUT_LIMIT",
    "INTERNAL_ERROR",
)


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    help_text = "sandbox backend (default: $GRADER_BACKEND or process)"
    parser.add_argument("--backend", choices=BACKENDS, help=help_text)


def add_seed_option(parser: argparse.ArgumentParser) -> None:
    """`--seed S` of `show`, `answer` and `check`: which variant of a varying item."""
    parser.add_argument(
        "--seed",
        type=seed,
        metavar="S",
        help="the variant of a varying item (default: this machine's seed for it)",
    )


def seed(text: str) -> int:
    """A variant's seed: an integer in 0..2**32-1; anything else is a usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < SEED_SPACE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give an integer 0..2**32-1")
    return value


def positive(text: str) -> int:
    """An integer >= 1 (`selftest --variants N`)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def add_log_options(p: argparse.ArgumentParser) -> None:
    """`--log-level` and `--log-format` of `grader serve` and `grader worker`."""
    p.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: $GRADER_LOG_LEVEL or info",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="one line per event as text or JSON (default: $GRADER_LOG_FORMAT or text)",
    )


def settings_for(args: argparse.Namespace) -> GraderSettings:
    """The grader's settings, with `--bank` and `--backend` over their variables."""
    from grader.settings import with_flags

    return with_flags(getattr(args, "bank", None), getattr(args, "backend", None))
