"""Run `python [-I] -c CODE ARGS` or `python [-I] SCRIPT ARGS` inside an already-warm interpreter.

A warm sandbox (a forked child of a zygote, or a pre-started container's program process) has
torch and torchvision imported already; instead of exec'ing a new interpreter it runs the
program here, the way the interpreter itself would: `sys.argv`, `sys.path[0]`, a fresh
`__main__`, the request's whole environment, `SystemExit` codes, a traceback and exit 1 for an
uncaught exception, non-daemon threads joined and atexit handlers run before the exit.
`plan()` (host side) says which argv can run warm; anything else (another program, other
interpreter flags) runs cold. Standard library only: both sandboxes load it by path.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import resource
import sys
import threading
import traceback
import types
from collections.abc import Sequence
from typing import Any, NoReturn

#: Past every descriptor a run may hold (`announce` closes up to here).
_MAX_FD = 1 << 20
#: Interpreter flags a warm run can honour; `-I` is how every warm interpreter was started.
_FLAGS = {"-I"}


#: madvise(2) advice values (linux/mman.h) and the size of a transparent huge page on x86-64.
_MADV_HUGEPAGE, _MADV_COLLAPSE = 14, 25
_HUGE = 2 << 20


def huge_pages(maps: str = "/proc/self/maps") -> int:
    """Back this interpreter's private writable memory (the heap and anonymous maps: ~370 MiB once
    torch is imported) with transparent huge pages; the bytes collapsed. A fork then copies one
    page-table entry per 2 MiB instead of per 4 KiB, and the child's exit frees as few: a warm
    job forks twice (its child, then the harness's runner), so this is CPU every job saves. Called
    once by a zygote after its imports. Only on Linux 6.1 or later (`MADV_COLLAPSE`; and a child's
    write to a shared huge page copies 4 KiB, not 2 MiB, since 5.8); anywhere else, or on any
    failure, nothing is changed and 0 returned: a zygote never fails to start for this."""
    if _kernel() < (6, 1):
        return 0
    try:
        return _collapse(maps)
    except (OSError, AttributeError, ValueError, IndexError):
        return 0


def _kernel() -> tuple[int, int]:
    """The running kernel's major and minor version ((0, 0) when unreadable)."""
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


def _collapse(maps: str) -> int:
    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    collapsed = 0
    with open(maps) as lines:
        regions = [line.split() for line in lines]
    for fields in regions:
        if fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue  # only private anonymous memory: never a file's pages or the stack
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        first, last = -(-start // _HUGE) * _HUGE, end // _HUGE * _HUGE
        if last <= first:
            continue
        madvise(first, last - first, _MADV_HUGEPAGE)
        if madvise(first, last - first, _MADV_COLLAPSE) == 0:
            collapsed += last - first
    return collapsed


def plan(argv: Sequence[str]) -> dict[str, Any] | None:
    """What a warm child runs for this argv, or None when only a fresh interpreter can run it."""
    if not argv or argv[0] != "python":
        return None
    rest = list(argv[1:])
    flags = set()
    while rest and rest[0] in _FLAGS:
        flags.add(rest.pop(0))
    if len(rest) >= 2 and rest[0] == "-c":
        return {"code": rest[1], "argv": ["-c", *rest[2:]], "isolated": "-I" in flags}
    if rest and not rest[0].startswith("-"):
        return {"script": rest[0], "argv": rest, "isolated": "-I" in flags}
    return None


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter exits with for `SystemExit(code)` (a message goes to stderr)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _prepare(program: dict[str, Any], env: dict[str, str], cwd: str) -> None:
    # The warm modules' exit handlers belong to the zygote, not to this program: running them
    # here costs tens of milliseconds and does nothing a run can observe. Logging still flushes.
    atexit._clear()
    if "logging" in sys.modules:
        atexit.register(sys.modules["logging"].shutdown)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(program["argv"])
    sys.dont_write_bytecode = "PYTHONDONTWRITEBYTECODE" in env
    if not program["isolated"]:
        sys.path.insert(0, "" if "code" in program else cwd)
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main


def _execute(program: dict[str, Any]) -> int:
    """Run the code in `__main__`; the exit status the interpreter would give."""
    namespace = sys.modules["__main__"].__dict__
    try:
        if "code" in program:
            exec(compile(program["code"], "<string>", "exec"), namespace)  # noqa: S102
        else:
            import runpy

            runpy.run_path(program["script"], run_name="__main__")
    except SystemExit as exc:
        return _exit_code(exc)
    except BaseException:  # noqa: BLE001 - the program's own uncaught exception
        kind, value, tb = sys.exc_info()
        try:
            frames = tb.tb_next if tb is not None else None  # not this runner's own frame
            if value is not None:
                value.__traceback__ = frames
            sys.excepthook(kind, value, frames)  # type: ignore[arg-type]
        except BaseException:  # noqa: BLE001 - a broken hook: print it as the interpreter does
            traceback.print_exc()
        return 1
    return 0


def _finish(code: int) -> int:
    """Join threads, run atexit handlers, flush; as interpreter shutdown does."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except BaseException:  # noqa: BLE001
        pass
    try:
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_code(exc)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = 120 if code == 0 else code
    return code


def announce(fd: int, code: int) -> None:
    """Close every descriptor but `fd`, then say the exit status on it: the output is complete,
    so the host may take the result now instead of after this address space's teardown (tens
    of milliseconds for a forked interpreter holding torch). Said by the program itself, it is
    worth what its exit status is: the host only ever stops waiting earlier on it."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu_s = sum(u.ru_utime + u.ru_stime for u in usage)
    os.closerange(0, fd)
    os.closerange(fd + 1, _MAX_FD)
    try:
        os.write(fd, json.dumps({"exit_code": code, "cpu_s": round(cpu_s, 6)}).encode() + b"\n")
    except OSError:
        pass  # the host stopped listening: it ended the run
    os.close(fd)


def run(
    program: dict[str, Any], env: dict[str, str], cwd: str, ended_fd: int | None = None
) -> NoReturn:
    """Become the program and exit with its status; never returns. With `ended_fd`, the status
    is said there first (`announce`)."""
    code = 1
    try:
        _prepare(program, env, cwd)
        code = _finish(_execute(program))
        if ended_fd is not None:
            announce(ended_fd, code)
    except BaseException:  # noqa: BLE001 - a failure of this runner: say it, exit 1
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code)
