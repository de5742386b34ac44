"""The host side of a container's attach socket: send the supervisor's tar, read capped output.

Docker multiplexes stdout and stderr on one socket in frames (an 8-byte header: stream, 3 zero
bytes, a big-endian length). Both are read concurrently from one thread with a selector, each
with a cap, so a flood ends the run at once and the host never holds more than the caps.

stdout carries, in order: the supervisor's "started" marker, the program's own output, then the
"result" marker, a JSON header line and the channel bytes (see `supervisor.py`).

A warm container serves many jobs on one socket (`zygote.py`), so its exchange (`keep_open`)
never closes the container's stdin and ends not at end of stream but once the result is whole
and the `end` marker came on stderr (the engine copies the two streams apart, so stderr may
trail stdout); the marker is cut from the program's stderr.
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.container.supervisor import marker

_CHUNK = 64 * 1024
_HEADER = struct.Struct(">BxxxL")
#: Room for the supervisor's JSON header line after the result marker.
HEADER_CAP = 4096


@dataclass
class Wire:
    """What the socket carried; `stop` says why reading ended early (None: the container ended)."""

    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    stop: str | None = None
    started_at: float | None = None
    ended_at: float = 0.0
    #: keep_open: the result and the `end` marker came (the container may take the next job)
    complete: bool = False


@dataclass(frozen=True)
class AttachOutcome:
    """stdout split into the program's output and the supervisor's result."""

    started: bool
    stdout: bytes
    output_exceeded: bool
    header: dict[str, Any] | None
    channel: bytes


@dataclass
class Exchange:
    """One run's conversation on the attach socket, bounded by caps and deadlines."""

    sock: socket.socket
    payload: bytes
    token: str
    output_cap: int
    channel_cap: int
    wall_s: float
    start_s: float
    keep_open: bool = False
    wire: Wire = field(default_factory=Wire)
    _pending: bytearray = field(default_factory=bytearray)
    _scanned: int = 0
    _result_at: int | None = None
    _ended: bool = False

    def __post_init__(self) -> None:
        self.started = marker(self.token, "started")
        self.result = marker(self.token, "result")
        self.end = marker(self.token, "end")
        self.stdout_cap = (
            len(self.started) + self.output_cap + len(self.result) + HEADER_CAP + self.channel_cap
        ) + 1

    def run(self) -> Wire:
        """Feed the payload, read until the container closes its streams or a limit is hit."""
        deadline = time.monotonic() + self.start_s
        self.sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while self.wire.stop is None and not self.wire.complete:
                deadline = self._deadline(deadline)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.wire.stop = "wall" if self.wire.started_at else "start"
                    break
                if not self._step(selector, remaining):
                    break
        self.wire.ended_at = time.monotonic()
        return self.wire

    def _deadline(self, deadline: float) -> float:
        """The wall clock starts when the program does (the "started" marker), not before."""
        if self.wire.started_at is None and self.wire.stdout.startswith(self.started):
            self.wire.started_at = time.monotonic()
            return self.wire.started_at + self.wall_s
        return deadline

    def _step(self, selector: selectors.BaseSelector, timeout: float) -> bool:
        """Serve one batch of events; False once the socket reached end of stream."""
        for _, events in selector.select(timeout):
            if events & selectors.EVENT_WRITE:
                self._send(selector)
            if events & selectors.EVENT_READ and not self._receive():
                return False
        return True

    def _send(self, selector: selectors.BaseSelector) -> None:
        try:
            sent = self.sock.send(self.payload[:_CHUNK])
        except BlockingIOError:
            return
        except OSError:
            sent = len(self.payload)  # the supervisor is gone; its exit tells the rest
        self.payload = self.payload[sent:]
        if not self.payload:
            selector.modify(self.sock, selectors.EVENT_READ)
            if self.keep_open:
                return  # the container's next job comes on the same stdin
            try:
                self.sock.shutdown(socket.SHUT_WR)  # EOF on the container's stdin
            except OSError:
                pass

    def _receive(self) -> bool:
        try:
            chunk = self.sock.recv(_CHUNK)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            return False
        self._pending += chunk
        self._frames()
        return True

    def _frames(self) -> None:
        """Move whole frames from the pending bytes to their stream's capture."""
        while len(self._pending) >= _HEADER.size and self.wire.stop is None:
            if self.wire.complete:
                return  # anything after the job's end is not this job's
            stream, size = _HEADER.unpack_from(self._pending)
            if len(self._pending) < _HEADER.size + size:
                return
            data = bytes(self._pending[_HEADER.size : _HEADER.size + size])
            del self._pending[: _HEADER.size + size]
            self._take(stream, data)
            if self.keep_open and self._ended and self._result_at is not None:
                whole = _result_whole(self.wire.stdout, self._result_at + len(self.result))
                self.wire.complete = whole

    def _take(self, stream: int, data: bytes) -> None:
        if stream == 2:
            self._take_stderr(data)
            return
        self.wire.stdout += data[: self.stdout_cap - len(self.wire.stdout)]
        if self._program_length() > self.output_cap or len(self.wire.stdout) >= self.stdout_cap:
            self.wire.stop = "stdout"

    def _take_stderr(self, data: bytes) -> None:
        """Capped; with `keep_open`, cut at the `end` marker (room is kept for the marker)."""
        room = len(self.end) if self.keep_open and not self._ended else 0
        self.wire.stderr += data[: self.output_cap + 1 + room - len(self.wire.stderr)]
        if room and (position := self.wire.stderr.find(self.end)) != -1:
            del self.wire.stderr[position:]
            self._ended = True
        if len(self.wire.stderr) > self.output_cap + (0 if self._ended else room):
            self.wire.stop = "stderr"

    def _program_length(self) -> int:
        """The program's part of stdout so far: up to the result marker, or at least this much."""
        raw = self.wire.stdout
        if self._result_at is None:
            position = raw.find(self.result, max(0, self._scanned - len(self.result)))
            self._scanned = len(raw)
            if position == -1:
                return _partial_start(raw, self.result) - len(self.started)
            self._result_at = position
        return self._result_at - len(self.started)


def _result_whole(raw: bytearray, start: int) -> bool:
    """Whether the header line and the channel bytes it announces all came (a header that
    cannot be read counts as whole: nothing more is coming that would mend it)."""
    newline = raw.find(b"\n", start)
    if newline == -1:
        return len(raw) - start > HEADER_CAP
    try:
        size = json.loads(raw[start:newline]).get("channel_len")
    except (ValueError, AttributeError):
        return True
    return not isinstance(size, int) or len(raw) - newline - 1 >= size


def _partial_start(raw: bytearray, mark: bytes) -> int:
    """Where `mark` would start if the end of `raw` is its beginning (else: at the very end)."""
    for size in range(min(len(mark) - 1, len(raw)), 0, -1):
        if raw.endswith(mark[:size]):
            return len(raw) - size
    return len(raw)


def outcome(raw: bytes | bytearray, token: str, output_cap: int, channel_cap: int) -> AttachOutcome:
    """Split stdout; a result that is malformed in any way counts as no result (fail closed)."""
    started, result = marker(token, "started"), marker(token, "result")
    if not raw.startswith(started):
        return AttachOutcome(False, b"", False, None, b"")
    body = bytes(raw[len(started) :])
    position = body.find(result)
    program = body if position == -1 else body[:position]
    exceeded = len(program) > output_cap
    header, channel = (None, b"")
    if position != -1:
        header, channel = _result(body[position + len(result) :], channel_cap)
    return AttachOutcome(True, program[:output_cap], exceeded, header, channel)


def _result(tail: bytes, channel_cap: int) -> tuple[dict[str, Any] | None, bytes]:
    line, newline, channel = tail.partition(b"\n")
    if not newline or len(line) > HEADER_CAP:
        return None, b""
    try:
        header = json.loads(line)
    except ValueError:
        return None, b""
    if not isinstance(header, dict) or header.get("channel_len") != len(channel):
        return None, b""
    if len(channel) > channel_cap + 1:
        return None, b""
    return header, channel
