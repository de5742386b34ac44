"""The warm pool's rules, with instances that start at once: waiting for a busy one rather than
going cold, the bound on that wait, sizing to the work, and what a shrunk pool gives up."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.settings import SandboxSettings
from sandbox.warm.pool import WarmPool


class Fake:
    """An instance that is alive until closed."""

    def __init__(self) -> None:
        self.closed = False

    def alive(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True


def pool(size: int, start_s: float = 0.5) -> WarmPool[Fake]:
    made = WarmPool(Fake, size, idle_s=600.0, name="test")
    made.start_s = start_s
    return made


def test_a_run_waits_for_a_busy_instance_rather_than_going_cold() -> None:
    warm = pool(1, start_s=5.0)
    first = warm.take(5.0)
    threading.Timer(0.2, warm.give_back, args=(first, True)).start()
    began = time.monotonic()
    second = warm.take_soon()
    assert second is first  # the same zygote, given back, not a cold run
    assert time.monotonic() - began < 4.0
    warm.close()


def test_the_wait_is_bounded_by_what_a_start_takes() -> None:
    warm = pool(1)
    held = warm.take(5.0)
    warm.start_s = 0.3  # as measured
    began = time.monotonic()
    assert warm.take_soon() is None  # every instance busy for longer than a start: run cold
    assert 0.25 <= time.monotonic() - began < 3.0
    warm.give_back(held, True)
    warm.close()


def test_a_failing_start_sends_the_run_cold_and_is_retried_later() -> None:
    calls = []

    def start() -> Fake:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("no runtime")
        return Fake()

    warm: WarmPool[Fake] = WarmPool(start, 1, idle_s=600.0, name="test")
    warm.start_s = 2.0
    assert warm.take_soon() is None
    assert isinstance(warm.take(5.0), Fake)  # demand again: the start is tried once more
    warm.close()


def test_a_shrunk_pool_closes_what_it_no_longer_keeps() -> None:
    warm = pool(3)
    taken = [warm.take(5.0) for _ in range(3)]
    warm.resize(1)
    for instance in taken:
        warm.give_back(instance, True)
    assert warm.counts()["ready"] == 1
    assert sum(instance.closed for instance in taken) == 2
    warm.close()


def test_a_grown_pool_starts_more_at_the_next_demand() -> None:
    warm = pool(1)
    first = warm.take(5.0)
    warm.resize(3)
    second, third = warm.take(5.0), warm.take(5.0)
    assert len({id(first), id(second), id(third)}) == 3
    warm.close()


@pytest.mark.parametrize(
    ("setting", "concurrency", "size"),
    [(None, 1, 2), (None, 4, 4), (None, 0, 2), (3, 8, 3), (1, 1, 1)],
)
def test_the_pool_follows_the_work_unless_a_size_is_set(
    setting: int | None, concurrency: int, size: int
) -> None:
    assert SandboxSettings(pool_size=setting).pool_for(concurrency) == size


def statuses(ended: bytes, status: bytes = b"") -> dict[str, object] | None:
    from sandbox.process.pump import Capture
    from sandbox.process.warm import Statuses

    said = Statuses(Capture("status", 1024), Capture("ended", 1024))
    said.status.take(status)
    said.ended.take(ended)
    return said.said()


@pytest.mark.parametrize(
    "ended",
    [b'{"exit_code": 0}', b'{"exit_code": true}\n', b'{"exit_code": "0"}\n', b"[0]\n", b"\xff\n"],
)
def test_an_unreadable_early_word_is_ignored_and_the_zygote_awaited(ended: bytes) -> None:
    assert statuses(ended) is None
    assert statuses(ended, b'{"signal": 9}\n') == {"signal": 9}


def test_the_programs_word_comes_before_the_kill_that_followed_it() -> None:
    said = statuses(b'{"exit_code": 3, "cpu_s": 1e99}\n', b'{"signal": 9}\n')
    assert said == {"exit_code": 3, "cpu_s": 0.0}


class Counted(Fake):
    """An instance that serves a fixed number of jobs (as a warm container does)."""

    def __init__(self, jobs: int = 5) -> None:
        super().__init__()
        self.left = jobs

    def alive(self) -> bool:
        return self.left > 0 and not self.closed


def counted_pool() -> WarmPool[Counted]:
    made = WarmPool(Counted, 1, idle_s=600.0, name="test", jobs_left=lambda c: c.left)
    made.start_s = 1.0
    return made


def serve(warm: WarmPool[Counted], pause_s: float = 0.0) -> Counted:
    """One job: take an instance, use one of its jobs, give it back after `pause_s`."""
    instance = warm.take(5.0)
    instance.left -= 1
    time.sleep(pause_s)
    warm.give_back(instance, True)
    return instance


def _settled(warm: WarmPool[Counted], ready: int) -> bool:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if warm.counts() == {"ready": ready, "busy": warm.counts()["busy"], "starting": 0}:
            return True
        time.sleep(0.01)
    return False


def test_a_successor_starts_while_an_ending_instance_serves_its_last_jobs() -> None:
    warm = counted_pool()
    first = serve(warm)
    assert serve(warm, pause_s=0.05) is first  # taken back to back: 3 jobs left end in < 1 s
    assert _settled(warm, ready=2)  # its successor is ready while it still has jobs
    assert first.left == 3 and not first.closed
    assert all(serve(warm) is first for _ in range(3))  # used up before its successor serves
    assert first.closed and warm.counts()["ready"] == 1
    warm.close()


def test_an_instance_taken_slowly_gets_its_successor_for_its_last_job_only() -> None:
    warm = counted_pool()
    warm.start_s = 0.05  # a start is quicker than the time between its jobs
    first = serve(warm)
    for _ in range(3):
        time.sleep(0.1)
        assert serve(warm) is first
        time.sleep(0.2)  # time enough for a start, were one due
        assert _settled(warm, ready=1)  # only itself: no successor yet
    held = warm.take(5.0)  # its last job: now the successor starts
    assert held is first and _settled(warm, ready=1)
    first.left -= 1
    warm.give_back(first, True)
    assert first.closed and warm.counts()["ready"] == 1
    warm.close()
