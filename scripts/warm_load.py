"""Warm jobs back to back, as `grader bench` runs its load figures, with the CPU they cost.

Grades `binary-metrics`'s reference `--jobs` times with `--concurrency` in flight on the process
backend's warm pool (sized for 4, as the bench does), after 3 untimed runs, and prints one line:
wall time per job, CPU per job counted for every process on the machine (/proc/stat: the jobs'
children, their teardown and the next fork, the host's own work), the host process's CPU per job,
and latency p50 / p95. Run it from two checkouts in turn (`PYTHONPATH=CHECKOUT`) to compare them
side by side on a shared machine, as README's "Warm pools and benchmark" does.

Usage: `python scripts/warm_load.py [--concurrency 1] [--jobs 100]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.bank import load_bank
from grader.ops import bench
from grader.settings import GraderSettings


def machine_cpu_s() -> float:
    """CPU seconds spent by the whole machine so far (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    settings = GraderSettings(cache=Path(tempfile.mkdtemp(prefix="grader-load-")))
    job = bench.code_job(load_bank([settings.bank]), bench.THROUGHPUT_ITEM, settings)
    sandbox = bench.open_mode("process", "warm", 4)
    try:
        for _ in range(3):
            job(sandbox)
        times: list[float] = []

        def one(_: int) -> None:
            began = time.perf_counter()
            if not job(sandbox):
                raise SystemExit("a run did not pass: see `grader check`")
            times.append(time.perf_counter() - began)

        cpu, host, began = machine_cpu_s(), time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.jobs)))
        wall = time.perf_counter() - began
        n = args.jobs
        print(
            f"c={args.concurrency} jobs={n} wall/job {wall / n * 1000:.1f} ms, "
            f"{n / wall:.1f} jobs/s; machine CPU/job {(machine_cpu_s() - cpu) / n * 1000:.1f} ms; "
            f"host CPU/job {(time.process_time() - host) / n * 1000:.1f} ms; "
            f"p50 {bench.percentile(times, 0.5) * 1000:.0f} ms, "
            f"p95 {bench.percentile(times, 0.95) * 1000:.0f} ms"
        )
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
