"""Scale-out figures: a burst through Celery with one worker, with two, and with two of which one
is SIGKILLed mid-job. Prints submissions, reports, lost, duplicated and throughput side by side;
exits 1 if any submission was lost or reported twice.

    .venv/bin/python scripts/load_celery.py [--code 24] [--mcq 24] [--sleep 0.5]
        [--broker redis|rabbitmq] [--store sqlite|postgres]

Workers are real `grader worker` processes (process sandbox, one pool process each) on a private
redis-server (needs the binary: scripts/install-redis.sh) or a private virtual host on the
machine's RabbitMQ (GRADER_TEST_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672//), sharing
a new store per phase: a SQLite file, or a scratch database on the machine's PostgreSQL
(GRADER_TEST_PG_URL). `reports` counts report writes that won (`store.finish` returned True,
logged by the worker); `duplicated` counts writes beyond one per submission; `regraded` counts
submissions graded more than once (the killed worker's job).

A SIGKILLed worker's job comes back through Redis' visibility timeout (`--visibility`, 30 s by
default), or at once from RabbitMQ, which sees the worker's connection close.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.ops.loopback import (
    BROKERS,
    STORES,
    Broker,
    Fleet,
    echo_source,
    run_broker,
    run_store,
    wait_until,
    write_bank,
)


@dataclass
class Figures:
    label: str
    submissions: int
    reports: int
    lost: int
    duplicated: int
    regraded: int
    wall_s: float

    @property
    def throughput(self) -> float:
        return self.submissions / self.wall_s if self.wall_s else 0.0


def burst(fleet: Fleet, code: int, mcq: int, sleep_s: float) -> list[str]:
    ids = [fleet.submit("slow-echo", source=echo_source(sleep_s)) for _ in range(code)]
    return ids + [fleet.submit("quick", choice="B") for _ in range(mcq)]


def run_phase(
    folder: Path, broker: Broker, args: argparse.Namespace, workers: int, kill: bool
) -> Figures:
    broker.flush()
    folder.mkdir()
    bank = write_bank(folder / "bank")
    with run_store(args.store, folder) as db_url:
        fleet = Fleet(folder, broker.url, bank, visibility_s=args.visibility, db_url=db_url)
        return measure(fleet, args, workers, kill)


def measure(fleet: Fleet, args: argparse.Namespace, workers: int, kill: bool) -> Figures:
    """Start the workers, send the burst (SIGKILL one worker mid-job with `kill`), wait for
    every report, count; the fleet is closed after."""
    try:
        started = [fleet.start_worker(f"w{n}") for n in range(workers)]
        t0 = time.monotonic()
        ids = burst(fleet, args.code, args.mcq, args.sleep)
        if kill:
            victim = started[0]
            wait_until(lambda: fleet.running_on(victim, "slow-echo") is not None, 120)
            fleet.kill(victim)
        fleet.wait_done(ids, args.timeout)
        wall = time.monotonic() - t0
        return tally(fleet, ids, wall, workers, kill)
    finally:
        fleet.close()


def tally(fleet: Fleet, ids: list[str], wall: float, workers: int, kill: bool) -> Figures:
    writes = fleet.writes()
    rows = fleet.rows(ids)
    known = set(ids)
    strays = sum(n for i, n in writes.items() if i not in known)
    label = f"{workers} worker{'s' if workers > 1 else ''}" + (", 1 SIGKILLed" if kill else "")
    return Figures(
        label=label,
        submissions=len(ids),
        reports=sum(writes[i] for i in ids) + strays,
        lost=sum(1 for r in rows if r.status != "done" or r.report is None or not writes[r.id]),
        duplicated=sum(max(writes[i] - 1, 0) for i in ids) + strays,
        regraded=sum(1 for r in rows if r.attempts > 1),
        wall_s=wall,
    )


def table(results: list[Figures]) -> str:
    rows = [
        ("", [f.label for f in results]),
        ("submissions", [str(f.submissions) for f in results]),
        ("reports", [str(f.reports) for f in results]),
        ("lost", [str(f.lost) for f in results]),
        ("duplicated", [str(f.duplicated) for f in results]),
        ("regraded (same report)", [str(f.regraded) for f in results]),
        ("wall s", [f"{f.wall_s:.1f}" for f in results]),
        ("throughput /s", [f"{f.throughput:.2f}" for f in results]),
    ]
    width = max(len(f.label) for f in results) + 2
    return "\n".join(
        f"{name:<24}" + "".join(f"{v:>{width}}" for v in values) for name, values in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=int, default=24, help="code submissions per burst")
    parser.add_argument("--mcq", type=int, default=24, help="multiple-choice submissions per burst")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds each code job sleeps")
    parser.add_argument("--visibility", type=int, default=30, help="Redis visibility timeout, s")
    parser.add_argument("--timeout", type=float, default=600, help="give up waiting after, s")
    parser.add_argument("--broker", choices=BROKERS, default="redis")
    parser.add_argument("--store", choices=STORES, default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-load-") as tmp:
        with run_broker(args.broker, Path(tmp)) as broker:
            results = [
                run_phase(Path(tmp) / "one", broker, args, workers=1, kill=False),
                run_phase(Path(tmp) / "two", broker, args, workers=2, kill=False),
                run_phase(Path(tmp) / "kill", broker, args, workers=2, kill=True),
            ]
    print(f"load-celery: broker {args.broker}, store {args.store}")
    print(table(results))
    one, two = results[0], results[1]
    print(f"speed-up, two workers vs one: {two.throughput / one.throughput:.2f}x")
    bad = sum(f.lost + f.duplicated for f in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
