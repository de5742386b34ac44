"""The benchmark's floor: the same harness work timed in-process, with no sandbox at all.

Run by the sandbox runtime's interpreter (it needs torch; the host's does not have it) as
`python bench_floor.py REPS` with a JSON list of `{"name", "files", "code"}` on stdin (files as
latin-1 strings, code the `python -c` text a sandbox runs); prints `{name: [seconds, ...]}`. Each
repetition writes the files into a fresh directory and runs the code there in a forked child
(the nonce on stdin, as a sandbox gives it), after one untimed warm-up; torch and torchvision
are imported before the clock starts, as a warm sandbox has them, and their memory is backed by
huge pages as a zygote's is (`warm_program.huge_pages`, loaded by path). The observer still forks
its runner; only the sandbox around it is gone.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from typing import Any


def _once(files: dict[str, str], code: str) -> float:
    with tempfile.TemporaryDirectory(prefix="grader-floor-") as folder:
        for name, text in files.items():
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(text.encode("latin-1"))
        started = time.perf_counter()
        child = os.fork()
        if child == 0:
            _observe(folder, code)
        os.waitpid(child, 0)
        return time.perf_counter() - started


def _observe(folder: str, program: str) -> None:
    """The forked child of one repetition runs the observer, as a warm sandbox's child does (a
    process that has run torch ops must not fork the runner: OpenMP's pool would hang it)."""
    code = 1
    try:
        os.environ["SANDBOX_CHANNEL"] = os.path.join(folder, "channel")
        nonce_r, nonce_w = os.pipe()
        os.write(nonce_w, b"floor")
        os.close(nonce_w)
        os.dup2(nonce_r, 0)
        os.chdir(folder)
        exec(compile(program, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)


def _program() -> Any:
    """`sandbox/warm/program.py`, which the zygotes load by path as well (standard library)."""
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "sandbox", "warm", "program.py")
    spec = importlib.util.spec_from_file_location("warm_program", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    reps = int(argv[1])
    jobs: list[dict[str, Any]] = json.load(sys.stdin)
    import torch  # noqa: F401 - imported before the clock, as in a warm sandbox
    import torchvision  # noqa: F401

    gc.collect()
    gc.freeze()  # as a zygote does before its first fork
    _program().huge_pages()

    times: dict[str, list[float]] = {}
    for job in jobs:
        _once(job["files"], job["code"])  # warm-up: lazy initialisation inside torch
        times[job["name"]] = [_once(job["files"], job["code"]) for _ in range(reps)]
    json.dump(times, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
