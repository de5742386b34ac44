"""The `grader` command: one module per family of subcommands; `main.py` parses and dispatches."""

from grader.cli.app import main

__all__ = ["main"]
