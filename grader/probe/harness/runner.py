"""The runner: the only process that executes student code. Everything in it is untrusted.

Forked by the observer before the observer reads anything secret, it closes every descriptor but
stdout, stderr and its data pipe, takes the run's second uid, waits until the observer has
dropped that uid, then loads the submission and runs the probe plan, sending each value as data
(`wire`). Student code may rewrite any of this; what it can send is still only data, which the
observer validates and describes itself.

Besides the values, it sends data that is feedback only: the names the submission defines (and
the parameters of the contract's functions), where a syntax error is, and, from its watchdog
thread (`watch`), where the student's code was running when the time limit ran out. A lie there
changes what the report says, never what it scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import io
import os
import sys
import traceback
import types
from typing import Any, NoReturn

import inputs  # type: ignore[import-not-found,unused-ignore]
import watch  # type: ignore[import-not-found,unused-ignore]
import wire  # type: ignore[import-not-found,unused-ignore]

SUBMISSION = "submission.py"
STDOUT_CAP = 64 * 1024
PR_SET_DUMPABLE = 4
#: Names of the submission reported to the host, and parameters per function.
DEFINES_CAP = 64
PARAMS_CAP = 64


class Capped(io.StringIO):
    """stdout (or stderr) captured for observation, keeping the first STDOUT_CAP characters."""

    def write(self, text: str) -> int:
        room = STDOUT_CAP - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


class Tee:
    """stderr during a part of the run: everything still reaches the real stream (the sandbox's
    output limit holds as before, `.buffer` and `fileno()` are the real ones), and the text also
    goes to the part's capture, for the report's `output`."""

    def __init__(self, real: Any, copy: Capped) -> None:
        self._real, self._copy = real, copy

    def write(self, text: str) -> int:
        written: int = self._real.write(text)
        with contextlib.suppress(Exception):
            self._copy.write(text)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def isolate(keep: tuple[int, ...]) -> None:
    """stdin from /dev/null (the observer's secret arrives there); close all but `keep`."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def take_second_uid() -> None:
    """Become the run's second uid (the sandbox gives it as the real uid), when there is one."""
    if os.getuid() != os.geteuid():
        gid, uid = os.getgid(), os.getuid()
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def error_summary(exc: BaseException, cells: list[list[int]]) -> dict[str, Any]:
    """The exception, with only the submission's own frames (the student's traceback lines).
    A syntax error in the submission has no such frame: its place (line, column, the line's
    text) is the exception's own, and becomes its one frame."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SUBMISSION:
            cell, line = cell_of(frame.lineno, cells)
            code = (frame.line or "")[:200]
            frames.append({"line": line, "cell": cell, "code": code, "function": frame.name})
    syntax = exc if isinstance(exc, SyntaxError) and exc.filename == SUBMISSION else None
    if syntax is not None:
        frames.append(syntax_frame(syntax, cells))
    kind = type(exc)
    return {
        "type": wire.qualname(kind),
        "mro": wire.mro(kind),
        "message": str(syntax.msg)[: wire.TEXT_CAP] if syntax is not None else _message(exc),
        "frames": frames[-8:],
    }


def syntax_frame(exc: SyntaxError, cells: list[list[int]]) -> dict[str, Any]:
    """Where a syntax error is: its line's text without the indent, columns counted from there."""
    cell, line = cell_of(exc.lineno, cells)
    text = (exc.text or "").rstrip("\r\n")
    indent = len(text) - len(text.lstrip())
    column = exc.offset - indent if exc.offset else None
    same_line = exc.end_lineno == exc.lineno and exc.end_offset
    end = exc.end_offset - indent if same_line and exc.end_offset else None
    found = {"line": line, "cell": cell, "code": text.strip()[:200], "function": "<module>"}
    return found | {"column": column, "end_column": end}


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[: wire.TEXT_CAP]
    except Exception:  # noqa: BLE001
        return ""


def cell_of(line: int | None, cells: list[list[int]]) -> tuple[int | None, int | None]:
    """(notebook cell, line within it) for a line of the joined source; (None, line) for .py."""
    for first, last, index in cells:
        if line is not None and first <= line <= last:
            return index, line - first + 1
    return None, line


def evaluate(expr: str, namespace: dict[str, Any]) -> Any:
    scope = dict(namespace)
    with contextlib.suppress(ImportError):
        import torch

        scope.setdefault("torch", torch)
        scope.setdefault("nn", torch.nn)
    exec(compile(expr, "<probe>", "exec"), scope)  # noqa: S102 - authored probe code
    return scope.get("result")


def run_target(probe: dict[str, Any], namespace: dict[str, Any]) -> Any:
    kind = probe["kind"]
    scope = {**namespace, "SEED": probe.get("seed", 0)}
    if kind == "eval":
        value = evaluate(f"result = ({probe['expr']})", scope)
    elif kind == "exec":
        value = evaluate(probe["code"], scope)
    else:
        function = namespace[probe["function"]]
        args = [inputs.decode(a, evaluate) for a in probe.get("args", [])]
        kwargs = {k: inputs.decode(v, evaluate) for k, v in probe.get("kwargs", {}).items()}
        value = function(*args, **kwargs)
    for part in filter(None, probe.get("attribute", "").split(".")):
        value = getattr(value, part)
    return value


def describe(probe: dict[str, Any], value: Any, encoder: wire.Encoder) -> dict[str, Any]:
    capture = probe.get("capture")
    if capture is not None:
        import torch

        if "step" in capture:
            stepped: dict[str, Any] = encoder.step_run(torch, value, int(capture["step"]))
            return stepped
        captured: dict[str, Any] = encoder.model_run(torch, value, inputs.decode(capture["input"]))
        return captured
    described: dict[str, Any] = encoder.value(value)
    return described


def observe(
    probe: dict[str, Any],
    namespace: dict[str, Any],
    cells: list[list[int]],
    progress: watch.Progress | None = None,
) -> tuple[dict[str, Any], bytes]:
    out, err, encoder = Capped(), Capped(), wire.Encoder()
    if progress is not None:
        progress.start(probe["id"], out)
    header: dict[str, Any] = {"probe": probe["id"]}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(Tee(sys.stderr, err)):
            header["value"] = describe(probe, run_target(probe, namespace), encoder)
    except BaseException as exc:  # noqa: BLE001 - whatever the student's code raised is data
        header["error"] = error_summary(exc, cells)
    header["stdout"], header["stderr"] = out.getvalue(), err.getvalue()
    return header, bytes(encoder.blob)


def load_submission(
    namespace: dict[str, Any],
    cells: list[list[int]],
    contract: list[str] | None = None,
    progress: watch.Progress | None = None,
) -> dict[str, Any]:
    with open(SUBMISSION, encoding="utf-8") as handle:
        source = handle.read()
    out, err = Capped(), Capped()
    if progress is not None:
        progress.start("load", out)
    header: dict[str, Any] = {"probe": "load"}
    try:
        code = compile(source, SUBMISSION, "exec")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(Tee(sys.stderr, err)):
            exec(code, namespace)  # noqa: S102 - this is what a sandbox is for
        header["value"] = {"t": "object", "class": "module", "mro": ["module"], "repr": ""}
    except BaseException as exc:  # noqa: BLE001
        header["error"] = error_summary(exc, cells)
    header["stdout"], header["stderr"] = out.getvalue(), err.getvalue()
    if "value" in header:
        with contextlib.suppress(Exception):  # feedback only: never the file's fault
            header["defines"] = defines(namespace, contract or [])
    return header


def display(*objects: Any, **_options: Any) -> None:
    """IPython's `display` in a notebook's cells: each object's repr, printed."""
    for found in objects:
        print(repr(found))


def defines(namespace: dict[str, Any], contract: list[str]) -> list[dict[str, Any]]:
    """The names the submission defines, the contract's first: each with its kind, whether it
    can be called and its parameters, so the host can say which contract name is missing or
    takes other arguments (and which names the file has instead)."""
    own = [n for n in contract if n in namespace]
    own += [n for n, v in list(namespace.items()) if n not in own and _own_name(n, v)]
    found = []
    for name in own[:DEFINES_CAP]:
        with contextlib.suppress(Exception):
            found.append(_definition(name, namespace[name]))
    return found


def _own_name(name: Any, value: Any) -> bool:
    """A name the file made: not a dunder, a module, or a function or class imported."""
    if not isinstance(name, str) or name.startswith("__"):
        return False
    try:
        if isinstance(value, types.ModuleType):
            return False
        if isinstance(value, (types.FunctionType, type)):
            return getattr(value, "__module__", None) == "__main__"
        return not callable(value)
    except Exception:  # noqa: BLE001 - a student's object whose attributes raise
        return False


def _definition(name: str, value: Any) -> dict[str, Any]:
    kind = (
        "function"
        if isinstance(value, types.FunctionType)
        else "class"
        if isinstance(value, type)
        else wire.qualname(type(value))
    )
    return {"name": name, "type": kind, "callable": callable(value), "params": _params(value)}


def _params(value: Any) -> list[list[Any]] | None:
    """[name, kind, has a default] per parameter; None when not callable or not knowable."""
    if not callable(value):
        return None
    try:
        signature = inspect.signature(value)
    except Exception:  # noqa: BLE001 - builtins, lying __signature__: the host judges nothing
        return None
    return [
        [str(p.name), p.kind.name, p.default is not inspect.Parameter.empty]
        for p in list(signature.parameters.values())[:PARAMS_CAP]
    ]


def run(plan: dict[str, Any], data_fd: int, go_fd: int) -> NoReturn:
    """The runner's whole life; never returns."""
    code = 0
    try:
        isolate((data_fd, go_fd))
        take_second_uid()
        while os.read(go_fd, 64):  # EOF: the observer holds the second uid no more
            pass
        os.close(go_fd)
        cells = plan.get("cells", [])
        writer, progress = wire.FrameWriter(data_fd), watch.Progress()
        if plan.get("wall_s"):
            where = lambda line: cell_of(line, cells)  # noqa: E731
            watch.Watchdog(writer, progress, plan["wall_s"], where, SUBMISSION).start()
        namespace: dict[str, Any] = {"__name__": "__main__", "__file__": SUBMISSION}
        if cells:  # a notebook: IPython's display() as Jupyter's text view shows it
            namespace["display"] = display
        loaded = load_submission(namespace, cells, plan.get("contract", []), progress)
        writer.send(loaded)
        for probe in plan["probes"] if "error" not in loaded else []:
            writer.send(*observe(probe, namespace, cells, progress))
        writer.send({"end": True})
    except BaseException:  # noqa: BLE001 - a broken runner: the observer sees a short wire
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
