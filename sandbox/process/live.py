"""What a process sandbox has running now, so that closing it can end everything from any thread.

A service closes its sandboxes at shutdown while worker threads may still be inside `run()`, and
a one-shot command closes its sandbox while the warm pool may still be starting a zygote. So
every cold run, warm job and zygote is held in a `Live` set from its start to its end, and
`close()` kills them all (a cold run: its process group and cgroups; a warm job: its cgroups; a
zygote: its whole jail) and refuses to start more. The thread that started each one still reaps
it and removes its folder; `wait_empty` gives those threads a moment to do so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

from sandbox.errors import SandboxFailure


class Killable(Protocol):
    def kill(self) -> None:
        """End it now, from any thread; its owner still reaps it."""
        ...


K = TypeVar("K", bound=Killable)


class Live(Generic[K]):
    """Things started and not yet ended; closed once, for good."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._cond = threading.Condition()
        self._live: set[K] = set()
        self.closed = False

    def add(self, thing: K) -> None:
        """Hold `thing` until `discard`; `SandboxFailure` when closed (it must not start)."""
        with self._cond:
            if self.closed:
                raise SandboxFailure(f"the {self.what} is closed")
            self._live.add(thing)

    def discard(self, thing: K) -> None:
        with self._cond:
            self._live.discard(thing)
            self._cond.notify_all()

    @contextmanager
    def track(self, thing: K) -> Iterator[None]:
        """Hold `thing` while the block runs."""
        self.add(thing)
        try:
            yield
        finally:
            self.discard(thing)

    def close(self) -> int:
        """Refuse new ones and kill every one still live; how many there were."""
        with self._cond:
            self.closed = True
            live = list(self._live)
        for thing in live:
            thing.kill()
        return len(live)

    def wait_empty(self, timeout_s: float) -> list[K]:
        """Wait until every one has ended (its owner discarded it); those left after
        `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._live and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return list(self._live)
