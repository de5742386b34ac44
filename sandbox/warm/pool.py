"""A pool of warm sandbox instances, started ahead of demand and refilled in the background.

Both backends keep one: the process backend's instances are zygotes (reused; each job is a forked
child that is discarded), the Docker backend's are pre-started containers (each serves jobs
one at a time, each job in a fresh child under fresh uids, and is replaced after N jobs or any
anomaly: `sandbox.container.warm`). The pool keeps `size` instances ready, starting them one at
a time on a background thread (so the first is ready as soon as possible on a small machine),
and shuts down instances left unused for `idle_s`; the next demand starts them again.

A run that finds no instance ready may wait for one (`take_soon`) rather than start cold: when
every instance is busy or still starting, one will come free in about the time a cold start
takes at most, so the wait is bounded by the pool's own measured start time. The size may
follow the work (`resize`): the process backend sizes it to the sandboxes sharing the pool.

An instance that serves a fixed number of jobs (a Docker container) says how many it has left
(`jobs_left`); once those would be done in less than a start's time at the pace it is taken
(measured per instance), its successor starts while it still serves them (it no longer counts
towards `size`), so a batch does not wait a whole start each time one is used up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sandbox.errors import SandboxFailure

log = logging.getLogger(__name__)


class Instance(Protocol):
    """What the pool needs of a warm sandbox."""

    def alive(self) -> bool:
        """Whether it can still take a job."""
        ...

    def close(self) -> None:
        """Shut it down; safe to call twice."""
        ...


T = TypeVar("T", bound=Instance)


@dataclass
class _Idle(Generic[T]):
    instance: T
    since: float


class WarmPool(Generic[T]):
    """Ready instances made by `start()` (which blocks until the instance is warm)."""

    #: What a start is assumed to take before one has been measured (an interpreter importing
    #: torch on a small machine).
    START_GUESS_S = 3.0

    def __init__(
        self,
        start: Callable[[], T],
        size: int,
        idle_s: float,
        name: str,
        jobs_left: Callable[[T], int | None] = lambda _: None,
    ) -> None:
        self._start, self.size, self.idle_s, self.name = start, size, idle_s, name
        self._jobs_left = jobs_left
        self.start_s = self.START_GUESS_S
        #: id(instance) -> (when it was last taken, running mean of the time between its takes)
        self._paces: dict[int, tuple[float, float | None]] = {}
        self._ending: set[int] = set()  # ids of instances whose successor is due (not counted)
        self._ready: list[_Idle[T]] = []
        self._busy = 0
        self._starting = 0
        self._closed = False
        self._wanted = False
        self._filling = False
        self._failure: str | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def prestart(self) -> None:
        """Start filling the pool now, ahead of demand."""
        with self._cond:
            self._wake()

    def take(self, timeout: float) -> T:
        """A ready instance, waiting for one to start if none is; `SandboxFailure` if none can."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxFailure(f"the {self.name} warm pool is closed")
                if (instance := self._pop_ready()) is not None:
                    return instance
                if self._failure and not self._starting:
                    failure, self._failure = self._failure, None  # the next take tries again
                    raise SandboxFailure(f"no warm {self.name} sandbox: {failure}")
                self._wake()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SandboxFailure(f"no warm {self.name} sandbox ready in {timeout:.0f} s")
                self._cond.wait(min(left, 1.0))

    def take_soon(self) -> T | None:
        """A ready instance, waiting at most about one start's time for one to come free or
        finish starting; None when none does (or starts fail): the run then goes cold, which
        would not have been faster."""
        deadline = time.monotonic() + self.start_s
        with self._cond:
            while not self._closed:
                if (instance := self._pop_ready()) is not None:
                    return instance
                if self._failure and not self._starting:
                    self._failure = None  # demand again: a failed start may be retried
                    break
                self._wake()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 1.0))
        return None

    def resize(self, size: int) -> None:
        """Keep `size` instances from now on (more start at the next demand; extra ready ones
        are shut down)."""
        with self._cond:
            self.size = max(1, size)
            extra = max(0, self._held() - self.size)
            counted = [i for i in self._ready if id(i.instance) not in self._ending]
            gone = counted[:extra]  # an ending instance is not counted: shutting it frees nothing
            self._ready = [i for i in self._ready if all(i is not g for g in gone)]
            for idle in gone:
                self._forget(idle.instance)
            self._cond.notify_all()
        for idle in gone:
            idle.instance.close()

    def _pop_ready(self) -> T | None:
        """The longest-ready live instance, now busy (dead ones are closed); None if none. Holds
        the lock."""
        while self._ready:
            instance = self._ready.pop(0).instance  # the longest ready, fully settled
            if instance.alive():
                self._busy += 1
                self._note_ending(instance, self._paced(instance))
                self._wake()
                return instance
            self._forget(instance)
            instance.close()
        return None

    def _paced(self, instance: T) -> float | None:
        """Note a take of `instance`; the mean time between its takes, once there were two."""
        now = time.monotonic()
        last, pace = self._paces.get(id(instance), (None, None))
        if last is not None:
            pace = now - last if pace is None else (pace + now - last) / 2
        self._paces[id(instance)] = (now, pace)
        return pace

    def _note_ending(self, instance: T, pace: float | None) -> None:
        """Stop counting an instance just taken whose jobs left after this one end within a
        start's time at its pace: the filler then starts its successor. Holds the lock."""
        left = self._jobs_left(instance)
        if left is None:
            return
        left -= 1
        if left <= 0 or (pace is not None and left * pace < self.start_s):
            self._ending.add(id(instance))

    def _forget(self, instance: T) -> None:
        """The instance leaves the pool (holds the lock)."""
        self._ending.discard(id(instance))
        self._paces.pop(id(instance), None)

    def _held(self) -> int:
        """Instances counted towards `size`: ready or busy, less those ending (holds the lock)."""
        return len(self._ready) + self._busy - len(self._ending)

    def try_take(self) -> T | None:
        """A ready instance, or None at once when none is (the pool starts filling)."""
        with self._cond:
            if not self._closed and (instance := self._pop_ready()) is not None:
                return instance
            self._failure = None  # demand again: a failed start may be retried
            self._wake()
            return None

    def give_back(self, instance: T, reuse: bool) -> None:
        """Return a used instance: ready again (a zygote) or shut down (a used container)."""
        with self._cond:
            self._busy -= 1
            ending = id(instance) in self._ending
            room = ending or self._held() < self.size  # the pool may have shrunk
            keep = reuse and room and not self._closed and instance.alive()
            if keep and ending:  # used up before its successor: one container at a time serves
                self._ready.insert(0, _Idle(instance, time.monotonic()))
            elif keep:
                self._ready.append(_Idle(instance, time.monotonic()))
            else:
                self._forget(instance)
            self._wake()
            self._cond.notify_all()
        if not keep:
            instance.close()

    def counts(self) -> dict[str, int]:
        with self._cond:
            return {"ready": len(self._ready), "busy": self._busy, "starting": self._starting}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            ready, self._ready = self._ready, []
            self._ending.clear()
            self._paces.clear()
            self._cond.notify_all()
        for idle in ready:
            idle.instance.close()
        # An instance still starting is closed by the filler when it is ready; not waited for
        # here, so a one-shot command does not wait for a warm-up it no longer needs.

    def _wake(self) -> None:
        """Make sure the filler thread runs (the caller holds the lock)."""
        if self._failure:
            return  # the last start failed: a take reports it before anything starts again
        self._wanted = True
        if not self._filling:
            self._filling = True
            name = f"{self.name}-pool"
            self._thread = threading.Thread(target=self._fill, name=name, daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _fill(self) -> None:
        """Keep `size` instances ready or busy; retire idle ones; stop when nothing is to do."""
        while self._step() and self._start_one():
            pass

    def _step(self) -> bool:
        """Wait until an instance should start; False when the filler should stop instead."""
        with self._cond:
            while True:
                if self._retire_idle() and not self._ready and not self._busy:
                    self._wanted = False  # everything went idle: wait for demand
                if self._closed or not self._wanted:
                    self._filling = False
                    return False
                if self._held() < self.size:
                    self._starting += 1
                    return True
                if not self._ready:
                    self._filling = False
                    return False  # all busy: give_back wakes us again
                self._cond.wait(min(self.idle_s, 5.0))

    def _start_one(self) -> bool:
        """Start one instance; False when it failed (the filler then stops)."""
        instance: T | None = None
        began = time.monotonic()
        try:
            instance = self._start()
            self.start_s = (self.start_s + time.monotonic() - began) / 2  # a running mean
        except Exception as exc:  # noqa: BLE001 - any start failure is reported to the takers
            if not self._closed:  # a start cut short by close() is not worth a warning
                log.warning("warm %s sandbox failed to start: %s", self.name, exc)
            failure: str | None = str(exc)
        else:
            failure = None
        with self._cond:
            self._starting -= 1
            self._failure = failure
            self._filling = self._filling and failure is None
            if instance is not None and not self._closed:
                self._ready.append(_Idle(instance, time.monotonic()))
                instance = None
            self._cond.notify_all()
        if instance is not None:
            instance.close()
        return failure is None

    def _retire_idle(self) -> bool:
        """Shut down instances unused for `idle_s` (the caller holds the lock)."""
        now = time.monotonic()
        gone = [i for i in self._ready if now - i.since >= self.idle_s]
        self._ready = [i for i in self._ready if now - i.since < self.idle_s]
        for idle in gone:
            self._forget(idle.instance)
            with contextlib.suppress(Exception):  # a dying instance: nothing to save
                idle.instance.close()
        return bool(gone)
