"""The programs that run INSIDE a sandbox, copied into the workdir's `harness/` folder and run by
the sandbox runtime's python (`HARNESS_ARGV` imports `observer` and calls its `main`). They
import nothing from this project: `observer` (trusted: holds the channel, never runs student
code), `runner` (forked by the observer under another uid: runs the submission and the probes),
`wire` (the data they exchange), `derive` (observations computed from that data), `inputs` (probe
arguments), `watch` (the runner's watchdog: where student code is, for time-limit feedback).

Each module travels with its bytecode (`harness/__pycache__/NAME.TAG.pyc`, checked against its
source by the importer): a warm job imports the harness instead of compiling 50 KB of Python,
about 20 ms of CPU per job. An interpreter of another version looks for another tag and compiles
the sources, as it always did."""

import hashlib
import importlib.util
import marshal
import sys
from functools import cache
from pathlib import Path

HARNESS_DIR = Path(__file__).parent
HARNESS_FILES = ("observer.py", "runner.py", "wire.py", "derive.py", "inputs.py", "watch.py")
#: What a harness run executes: the observer imported as a module (so from its bytecode).
HARNESS_CODE = (
    "import sys; sys.path.insert(0, 'harness'); import observer; sys.exit(observer.main())"
)
#: The command a harness run starts with, in the workdir.
HARNESS_ARGV = ("python", "-I", "-c", HARNESS_CODE)
#: A hash-based .pyc whose source the importer checks (PEP 552: flags bit 0 and bit 1).
_CHECKED_HASH = (0b11).to_bytes(4, "little")


@cache
def harness_files() -> dict[str, bytes]:
    """The harness as sandbox files (`harness/NAME`), each with its bytecode (read once)."""
    files = {}
    tag = sys.implementation.cache_tag
    for name in HARNESS_FILES:
        source = (HARNESS_DIR / name).read_bytes()
        files[f"harness/{name}"] = source
        if tag is not None:
            files[f"harness/__pycache__/{name[:-3]}.{tag}.pyc"] = _bytecode(name, source)
    return files


def _bytecode(name: str, source: bytes) -> bytes:
    """What `py_compile` writes for `source` with PycInvalidationMode.CHECKED_HASH."""
    code = compile(source, f"harness/{name}", "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + importlib.util.source_hash(source)
    return header + marshal.dumps(code)


@cache
def harness_digest() -> str:
    """What identifies this version of the harness in cache keys (read once per process)."""
    digest = hashlib.sha256()
    for name in HARNESS_FILES:
        digest.update(name.encode() + b"\0" + (HARNESS_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()
