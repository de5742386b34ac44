"""The runner: the only process that executes student code. Everything in it is untrusted.

Forked by the observer before the observer reads anything secret, it closes every descriptor but
stdout, stderr and its data pipe, takes the run's second uid, waits until the observer has
dropped that uid, then loads the submission and runs the probe plan, sending each value as data
(`wire`). Student code may rewrite any of this; what it can send is still only data, which the
observer validates and describes itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import traceback
from typing import Any, NoReturn

import inputs  # type: ignore[import-not-found,unused-ignore]
import wire  # type: ignore[import-not-found,unused-ignore]

SUBMISSION = "submission.py"
STDOUT_CAP = 64 * 1024
PR_SET_DUMPABLE = 4


class Capped(io.StringIO):
    """stdout captured for observation, keeping only the first STDOUT_CAP characters."""

    def write(self, text: str) -> int:
        room = STDOUT_CAP - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


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
    """The exception, with only the submission's own frames (the student's traceback lines)."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SUBMISSION:
            cell, line = cell_of(frame.lineno, cells)
            code = (frame.line or "")[:200]
            frames.append({"line": line, "cell": cell, "code": code, "function": frame.name})
    kind = type(exc)
    return {
        "type": wire.qualname(kind),
        "mro": wire.mro(kind),
        "message": _message(exc),
        "frames": frames[-8:],
    }


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
    probe: dict[str, Any], namespace: dict[str, Any], cells: list[list[int]]
) -> tuple[dict[str, Any], bytes]:
    out, encoder = Capped(), wire.Encoder()
    header: dict[str, Any] = {"probe": probe["id"]}
    try:
        with contextlib.redirect_stdout(out):
            header["value"] = describe(probe, run_target(probe, namespace), encoder)
    except BaseException as exc:  # noqa: BLE001 - whatever the student's code raised is data
        header["error"] = error_summary(exc, cells)
    header["stdout"] = out.getvalue()
    return header, bytes(encoder.blob)


def load_submission(namespace: dict[str, Any], cells: list[list[int]]) -> dict[str, Any]:
    with open(SUBMISSION, encoding="utf-8") as handle:
        source = handle.read()
    out = Capped()
    header: dict[str, Any] = {"probe": "load"}
    try:
        code = compile(source, SUBMISSION, "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # noqa: S102 - this is what a sandbox is for
        header["value"] = {"t": "object", "class": "module", "mro": ["module"], "repr": ""}
    except BaseException as exc:  # noqa: BLE001
        header["error"] = error_summary(exc, cells)
    header["stdout"] = out.getvalue()
    return header


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
        namespace: dict[str, Any] = {"__name__": "__main__", "__file__": SUBMISSION}
        loaded = load_submission(namespace, cells)
        wire.write_frame(data_fd, loaded)
        for probe in plan["probes"] if "error" not in loaded else []:
            wire.write_frame(data_fd, *observe(probe, namespace, cells))
        wire.write_frame(data_fd, {"end": True})
    except BaseException:  # noqa: BLE001 - a broken runner: the observer sees a short wire
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
