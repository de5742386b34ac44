"""The `grader` command: one module per family of subcommands; `main.py` parses and dispatches."""

from grader.cli.main import main

__all__ = ["main"]
