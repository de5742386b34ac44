"""The host side of a run's pipes: feed stdin, read stdout, stderr and the channel with caps.

Everything is read concurrently from one thread with `selectors`, so a program that floods one
stream while the host waits on another cannot stall the run. A stream over its cap ends the run
at once (an output flood must not last until the wall limit).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_CHUNK = 64 * 1024
_TICK_S = 0.05
_EXIT_POLL_S = 0.002
#: How long pipes may stay open after the program ended (a daemonised child holding them).
_ORPHAN_GRACE_S = 0.5


@dataclass
class Capture:
    """Bytes read from one pipe, at most `cap`; `exceeded` when the program sent more."""

    name: str
    cap: int
    data: bytearray = field(default_factory=bytearray)
    exceeded: bool = False

    def take(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        self.data += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.exceeded = True


@dataclass
class PipeOutcome:
    """Why the pump stopped: `None` when every pipe closed and the process ended by itself."""

    stop: str | None
    wall_s: float


@dataclass
class Pump:
    """Pipes of one run. `check` is called every tick and may return a reason to stop."""

    captures: dict[int, Capture]
    stdin_fd: int | None
    stdin: bytes
    deadline: float
    exited: Callable[[], bool]
    check: Callable[[], str | None] = lambda: None

    def run(self) -> PipeOutcome:
        start = time.monotonic()
        with selectors.DefaultSelector() as selector:
            self._register(selector)
            stop = self._loop(selector)
        for fd in list(self.captures) + ([self.stdin_fd] if self.stdin_fd is not None else []):
            with contextlib.suppress(OSError):
                os.close(fd)
        return PipeOutcome(stop=stop, wall_s=time.monotonic() - start)

    def _register(self, selector: selectors.BaseSelector) -> None:
        for fd in self.captures:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        if self.stdin_fd is not None:
            if self.stdin:
                os.set_blocking(self.stdin_fd, False)
                selector.register(self.stdin_fd, selectors.EVENT_WRITE)
            else:
                os.close(self.stdin_fd)
                self.stdin_fd = None

    def _loop(self, selector: selectors.BaseSelector) -> str | None:
        ended_at: float | None = None
        while True:
            now = time.monotonic()
            if ended_at is None and self.exited():
                ended_at = now
            if ended_at is not None and not selector.get_map():
                return None
            if ended_at is not None and now - ended_at > _ORPHAN_GRACE_S:
                return "orphans"
            remaining = self.deadline - now
            if remaining <= 0:
                return "wall"
            tick = _TICK_S if selector.get_map() else _EXIT_POLL_S  # pipes closed: exit is near
            for key, _ in selector.select(min(remaining, tick)):
                reason = self._serve(selector, key.fd)
                if reason:
                    return reason
            reason = self.check()
            if reason:
                return reason

    def _serve(self, selector: selectors.BaseSelector, fd: int) -> str | None:
        if fd == self.stdin_fd:
            self._feed(selector)
            return None
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return None
        capture = self.captures[fd]
        if not chunk:
            selector.unregister(fd)
            return None
        capture.take(chunk)
        return capture.name if capture.exceeded else None

    def _feed(self, selector: selectors.BaseSelector) -> None:
        assert self.stdin_fd is not None
        try:
            written = os.write(self.stdin_fd, self.stdin[:_CHUNK])
        except BlockingIOError:
            return
        except BrokenPipeError:
            written = len(self.stdin)  # the program closed its stdin: drop the rest
        self.stdin = self.stdin[written:]
        if not self.stdin:
            selector.unregister(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = None
