"""The programs that run INSIDE a sandbox, copied into the workdir's `harness/` folder and run by
the sandbox runtime's python (`python -I harness/observer.py`). They import nothing from this
project: `observer` (trusted: holds the channel, never runs student code), `runner` (forked by
the observer under another uid: runs the submission and the probes), `wire` (the data they
exchange), `derive` (observations computed from that data), `inputs` (probe arguments), `watch` (the
runner's watchdog: where student code is, for time-limit feedback)."""

import hashlib
from functools import cache
from pathlib import Path

HARNESS_DIR = Path(__file__).parent
HARNESS_FILES = ("observer.py", "runner.py", "wire.py", "derive.py", "inputs.py", "watch.py")
#: The command a harness run starts with, relative to the workdir.
HARNESS_ARGV = ("python", "-I", "harness/observer.py")


def harness_files() -> dict[str, bytes]:
    """The harness as sandbox files (`harness/NAME`)."""
    return {f"harness/{name}": (HARNESS_DIR / name).read_bytes() for name in HARNESS_FILES}


@cache
def harness_digest() -> str:
    """What identifies this version of the harness in cache keys (read once per process)."""
    digest = hashlib.sha256()
    for name in HARNESS_FILES:
        digest.update(name.encode() + b"\0" + (HARNESS_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()
