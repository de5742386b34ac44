"""The observer: the program a sandbox starts (`HARNESS_ARGV` imports it and calls `main`). It
never imports or executes student code.

    observer (effective uid O, real uid R)  reads plan.json, imports torch
      fork ─ runner (takes uid R)           closes every fd but stdout, stderr and its data pipe,
      │                                     waits for "go", then runs the submission and probes
      observer drops R, turns non-dumpable, says "go" (closes the go pipe)
      observer reads the nonce (stdin) and opens the channel only now
      observer reads the runner's frames (data only, capped), computes each observation itself
      and writes it to the channel with the nonce; `done` once the runner's frames ended;
      the watchdog's `running` frames (feedback only) go to the channel as they come

The runner cannot signal, ptrace or read the memory of the observer (another uid, non-dumpable)
and never holds the channel or the nonce. The observer exits as the runner did, so the sandbox
sees the same exit status, signal and limits as the student's code.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import derive  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
import inputs  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
import runner  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
import wire  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

CHANNEL_ENV = "SANDBOX_CHANNEL"
PR_SET_DUMPABLE = 4
#: Everything one run may send on the data pipe.
READ_CAP = wire.BLOB_CAP + 64 * wire.HEADER_CAP // 8
LOAD = "load"
#: `running` frames forwarded to the channel per run (the watchdog sends about 40).
RUNNING_CAP = 64
#: Parameter kinds of `inspect.Parameter`, as the runner names them.
PARAM_KINDS = (
    "POSITIONAL_ONLY",
    "POSITIONAL_OR_KEYWORD",
    "VAR_POSITIONAL",
    "KEYWORD_ONLY",
    "VAR_KEYWORD",
)
#: Words of a plan whose probes make tensors (the runner will import torch for them).
TORCH_WORDS = ("torch", "$tensor", "$zeros", "$randn", "$randint", "$model", "capture")


class Channel:
    """The observation channel named by SANDBOX_CHANNEL: `fd:N` or a file path."""

    def __init__(self, spec: str, nonce: str) -> None:
        self.nonce = nonce
        fd = (
            int(spec[3:])
            if spec.startswith("fd:")
            else os.open(spec, os.O_WRONLY | os.O_CREAT, 0o600)
        )
        self.stream = os.fdopen(fd, "w", encoding="utf-8", closefd=True)

    def send(self, **fields: Any) -> None:
        line = json.dumps({"nonce": self.nonce, **fields}, allow_nan=False)
        self.stream.write(line + "\n")
        self.stream.flush()


def preload(plan: dict[str, Any]) -> None:
    """torch (and torchvision's models when a probe needs them here), imported before the fork
    when the run will use them (a warm sandbox has them already), so the runner inherits them
    and a cold run pays the import once. A run that names no torch does not pay it at all; the
    observer imports it later only if tensors arrive (from the runtime: `-I` keeps the workdir
    off sys.path)."""
    with open(runner.SUBMISSION, "rb") as handle:
        text = handle.read()
    probes = json.dumps(plan)
    if "torch" in sys.modules or b"torch" in text or any(word in probes for word in TORCH_WORDS):
        with contextlib.suppress(ImportError):
            import torch  # noqa: F401

            if any("conforms" in probe for probe in plan["probes"]):
                import torchvision.models  # noqa: F401


def start_runner(plan: dict[str, Any]) -> tuple[int, int]:
    data_r, data_w = os.pipe()
    go_r, go_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(data_r)
        os.close(go_w)
        runner.run(plan, data_w, go_r)
    os.close(data_w)
    os.close(go_r)
    uid, gid = os.geteuid(), os.getegid()
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # the runner's uid is not ours to take back any more
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.close(go_w)
    return pid, data_r


def read_secret() -> str:
    chunks = b""
    while len(chunks) < 4096 and (chunk := os.read(0, 4096)):
        chunks += chunk
    return chunks.decode("ascii", errors="replace").strip()


class Frames:
    """Frames from the data pipe until the end frame, EOF, or the runner's exit (an orphan that
    keeps the pipe open cannot hold the observer)."""

    def __init__(self, fd: int, pid: int) -> None:
        self.fd, self.pid = fd, pid
        self.buffer = bytearray()
        self.total = 0
        self.status: int | None = None

    def __iter__(self) -> Any:
        while True:
            frame = self._parse()
            if frame is not None:
                yield frame
                continue
            if not self._fill():
                return

    def _parse(self) -> tuple[dict[str, Any], bytes] | None:
        size = wire.PREFIX.size
        if len(self.buffer) < size:
            return None
        header_len, blob_len = wire.parse_frame(bytes(self.buffer[:size]))
        end = size + header_len + blob_len
        if len(self.buffer) < end:
            return None
        header = wire.load_header(bytes(self.buffer[size : size + header_len]))
        blob = bytes(self.buffer[size + header_len : end])
        del self.buffer[:end]
        return header, blob

    def _fill(self) -> bool:
        """Read more; False at EOF, or once the runner is gone and the pipe is idle."""
        while True:
            exited = self._reap()
            ready, _, _ = select.select([self.fd], [], [], 0 if exited else 0.05)
            if ready:
                chunk = os.read(self.fd, 1 << 20)
                self.total += len(chunk)
                if self.total > READ_CAP:
                    raise wire.WireError("the program sent more data than the limit")
                self.buffer += chunk
                return bool(chunk)
            if exited:
                return False

    def _reap(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def finish(self) -> int:
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        return self.status


def error_fields(error: Any) -> dict[str, Any]:
    error = derive.need(error, dict, "an error")
    frames = []
    for frame in derive.need(error.get("frames", []), list, "frames")[:8]:
        frame = derive.need(frame, dict, "a frame")
        found = place_fields(frame)
        for column in ("column", "end_column"):  # a syntax error's place on its line
            if frame.get(column) is not None:
                found[column] = derive.need(frame[column], int, "a column")
        frames.append(found)
    return {
        "type": derive.text(error.get("type"), "type"),
        "mro": derive.names(error.get("mro"), "mro"),
        "message": derive.text(error.get("message", ""), "message"),
        "frames": frames,
    }


def place_fields(frame: dict[str, Any]) -> dict[str, Any]:
    """A place in the student's code: line and notebook cell, the line's code, the function."""
    return {
        "line": _optional_int(frame.get("line")),
        "cell": _optional_int(frame.get("cell")),
        "code": derive.text(frame.get("code", ""), "code")[:200],
        "function": derive.text(frame.get("function", ""), "function")[:200],
    }


def _optional_int(value: Any) -> int | None:
    return None if value is None else derive.need(value, int, "a line number")


def running_fields(running: Any, probes: list[str]) -> dict[str, Any]:
    """A watchdog sample: the probe running, where in the student's code, its output so far."""
    running = derive.need(running, dict, "a running frame")
    probe = derive.need(running.get("probe"), str, "a probe")
    if probe not in probes:
        raise wire.WireError("a running frame names no probe of the plan")
    stdout = derive.text(running.get("stdout", ""), "stdout")[:2000]
    return {"probe": probe, **place_fields(running), "stdout": stdout}


def defines_fields(defines: Any) -> list[dict[str, Any]]:
    """The names the runner says the submission defines (feedback only: see the host's
    `grader.grading.contract`)."""
    found = []
    for entry in derive.need(defines, list, "defines")[:64]:
        entry = derive.need(entry, dict, "a definition")
        params = entry.get("params")
        found.append(
            {
                "name": derive.text(entry.get("name"), "a name")[:200],
                "type": derive.text(entry.get("type"), "a type")[:200],
                "callable": derive.need(entry.get("callable"), bool, "callable"),
                "params": None if params is None else [_param(p) for p in params[:64]],
            }
        )
    return found


def _param(param: Any) -> list[Any]:
    name, kind, default = derive.need(param, list, "a parameter")[:3]
    if kind not in PARAM_KINDS:
        raise wire.WireError("a parameter of an unknown kind")
    return [derive.text(name, "a name")[:200], kind, derive.need(default, bool, "a default")]


def observation(
    probe: dict[str, Any] | None, header: dict[str, Any], blob: bytes
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stdout": derive.text(header.get("stdout", ""), "stdout")[: runner.STDOUT_CAP]
    }
    stderr = derive.text(header.get("stderr", ""), "stderr")[: runner.STDOUT_CAP]
    if stderr:  # feedback only (the report's `output`): no check reads it
        out["stderr"] = stderr
    if probe is None and "defines" in header:
        out["defines"] = defines_fields(header["defines"])
    if "error" in header:
        out["error"] = error_fields(header["error"])
        return out
    if "value" not in header:
        raise wire.WireError("a frame with neither a value nor an error")
    reader = derive.Reader(blob)
    out["result"] = reader.observe(header["value"])
    if probe is not None and "step" in probe.get("capture", {}):
        out["result"]["step_rates"] = derive.step_rates(
            reader, header["value"], probe["capture"]["step"]
        )
    if probe is not None and "conforms" in probe:
        spec, given = probe["conforms"], inputs.decode(probe["capture"]["input"])
        out["result"]["conforms"] = derive.conforms(reader, spec, header["value"], given)
    return out


def observe_all(plan: dict[str, Any], frames: Frames, channel: Channel) -> bool:
    """Send an observation per frame; True when the run ended cleanly or unreadably."""
    probes = {p["id"]: p for p in plan["probes"]}
    expected = [LOAD, *probes]
    seen = running = 0
    try:
        for header, blob in frames:
            if "running" in header:
                if running < RUNNING_CAP:
                    channel.send(running=running_fields(header["running"], expected))
                running += 1
                continue
            if header.get("end") is True:
                return True
            if seen >= len(expected) or header.get("probe") != expected[seen]:
                raise wire.WireError("a frame out of the plan's order")
            found = observation(probes.get(expected[seen]), header, blob)
            channel.send(probe=expected[seen], observation=found)
            seen += 1
    except Exception as exc:  # noqa: BLE001 - hostile data must not crash the observer
        why = str(exc) if isinstance(exc, wire.WireError) else f"{type(exc).__name__}: {exc}"
        if seen < len(expected):
            channel.send(probe=expected[seen], observation={"unreadable": why[:400], "stdout": ""})
        return True
    return False


def exit_as(status: int) -> int:
    """The runner's status as ours: its exit code, or death by the same signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        sys.stdout.flush()
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def main() -> int:
    with open("plan.json", encoding="utf-8") as handle:
        plan = json.load(handle)
    preload(plan)
    pid, data_fd = start_runner(plan)
    channel = Channel(os.environ.pop(CHANNEL_ENV), read_secret())
    frames = Frames(data_fd, pid)
    if observe_all(plan, frames, channel):
        channel.send(done=True)
    os.close(data_fd)
    return exit_as(frames.finish())


if __name__ == "__main__":
    sys.exit(main())
