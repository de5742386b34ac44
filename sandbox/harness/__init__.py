"""The program that runs INSIDE a sandbox: `harness.py` is copied into the workdir and run by the
sandbox runtime's python. It imports nothing from this project."""

from pathlib import Path

HARNESS_PATH = Path(__file__).with_name("harness.py")
