"""`grader bench`: a fixed mix graded cold and warm, side by side, per backend, against a floor.

The mix: an mcq answer (no sandbox at all), `binary-metrics` and `replace-head-5-classes` (their
reference solutions, graded end to end by `grade_code`), and `predict-resnet18-batch-shape`
(its snippet run uncached, then the answer judged). Per backend and mode: p50 and p95 latency
per item, throughput at concurrency 1 and 2 (`binary-metrics` jobs per second), the warm/cold
ratio, and the floor: the same harness work timed in-process with no sandbox
(`bench_floor.py`, in the sandbox runtime). Latency runs wait for a full warm pool first; the
throughput runs do not (on Docker they then also show the pool's refill rate). Figures, not
verdicts: nothing here asserts a time.
"""

from __future__ import annotations

import json
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from grader.bank import Bank, load_bank
from grader.errors import BadInput
from grader.grading import Grader
from grader.grading.submission import Source
from grader.models import CodeItem, McqItem, PredictItem
from grader.probe.plan import build_plan, harness_request, limits_for
from grader.settings import GraderSettings
from sandbox.backends import open_sandbox, wait_warm
from sandbox.base import Sandbox
from sandbox.settings import SandboxSettings

MCQ = "finetuning-purpose"
CODE = ("binary-metrics", "replace-head-5-classes")
PREDICT = ("predict-resnet18-batch-shape", "[8, 1000]")
THROUGHPUT_ITEM = "binary-metrics"
MODES = ("cold", "warm")
#: Backends with a warm pool; the others are measured cold only.
WARM_BACKENDS = ("process", "docker")

Job = Callable[[Sandbox], bool]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p50 of 5 values is the 3rd smallest)."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summary(seconds: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds, and the count."""
    return {
        "p50_ms": round(percentile(seconds, 0.5) * 1000, 3),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 3),
        "n": len(seconds),
    }


def code_job(bank: Bank, item_id: str, settings: GraderSettings) -> Job:
    """Grade the item's reference solution through `Grader`, as a student's upload would be."""
    item = bank.get(item_id)
    if not isinstance(item, CodeItem):
        raise BadInput(f"bench item {item_id!r} is not a code item")
    source = Source((settings.solutions / item_id / "reference.py").read_text())

    def grade(sandbox: Sandbox) -> bool:
        return Grader(bank, sandbox, settings).grade(item, source).passed

    return grade


def predict_job(bank: Bank, item_id: str, answer: str, settings: GraderSettings) -> Job:
    """Grade a right prediction through `Grader`, with a fresh snippet cache each time."""
    item = bank.get(item_id)
    if not isinstance(item, PredictItem):
        raise BadInput(f"bench item {item_id!r} is not a predict item")

    def grade(sandbox: Sandbox) -> bool:
        fresh = Path(tempfile.mkdtemp(dir=settings.cache))  # uncached: the snippet really runs
        uncached = settings.model_copy(update={"cache": fresh})
        return Grader(bank, sandbox, uncached).grade(item, answer).passed

    return grade


def timed(job: Job, sandbox: Sandbox, reps: int) -> list[float]:
    """Seconds per graded run, after one untimed run; a run that does not pass is an error.
    Each run starts with the warm pool refilled (a Docker container serves one job, and its
    replacement starts in the background): latency with a ready pool; the throughput figures
    show what back-to-back runs get."""
    times = []
    for index in range(reps + 1):
        wait_warm(sandbox)
        started = time.perf_counter()
        passed = job(sandbox)
        took = time.perf_counter() - started
        if not passed:
            raise RuntimeError(f"a bench run did not pass on {sandbox.name}; see `grader check`")
        if index:
            times.append(took)
    return times


def throughput(job: Job, sandbox: Sandbox, jobs: int, concurrency: int) -> float:
    """Graded runs per second with `concurrency` runs in flight."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: job(sandbox), range(jobs)))
    took = time.perf_counter() - started
    if not all(results):
        raise RuntimeError(f"a bench run did not pass on {sandbox.name}")
    return round(jobs / took, 2)


def open_mode(backend: str, mode: str, wait_s: float = 300.0) -> Sandbox:
    """The backend with warm pools on or off; a warm one is waited for until its pool is full."""
    settings = SandboxSettings().model_copy(update={"warm": mode == "warm"})
    sandbox = open_sandbox(backend, settings)
    wait_warm(sandbox, wait_s)
    return sandbox


def bench_mode(
    backend: str, mode: str, jobs: dict[str, Job], reps: int, count: int | None = None
) -> dict[str, Any]:
    sandbox = open_mode(backend, mode)
    try:
        latency = {name: summary(timed(job, sandbox, reps)) for name, job in jobs.items()}
        count = count or max(4, reps)
        rates = {str(c): throughput(jobs[THROUGHPUT_ITEM], sandbox, count, c) for c in (1, 2)}
    finally:
        sandbox.close()
    return {"latency": latency, "throughput_per_s": rates}


def floor(bank: Bank, settings: GraderSettings, reps: int) -> dict[str, dict[str, float]]:
    """The code and predict items' harness work, timed in-process in the sandbox runtime."""
    requests = []
    for item_id in CODE:
        item = bank.get(item_id)
        assert isinstance(item, CodeItem)
        source = (settings.solutions / item_id / "reference.py").read_text()
        plan = build_plan(item.checks)
        data = bank.data_files(item)
        requests.append((item_id, harness_request(source, plan, limits_for(item), data)))
    predict = bank.get(PREDICT[0])
    assert isinstance(predict, PredictItem)
    from grader.probe.plan import ProbePlan

    empty = ProbePlan([], [], "snippet")
    requests.append((predict.id, harness_request(predict.snippet, empty, limits_for(predict))))
    jobs = [
        {"name": name, "files": {k: v.decode("latin-1") for k, v in r.files.items()}}
        for name, r in requests
    ]
    python = settings.sandbox.runtime / "bin" / "python"
    script = Path(__file__).with_name("bench_floor.py")
    done = subprocess.run(
        [str(python), str(script), str(reps)],
        input=json.dumps(jobs).encode(),
        capture_output=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-500:]
        raise RuntimeError(f"the bench floor failed in the runtime {python}: {tail}")
    times: dict[str, list[float]] = json.loads(done.stdout)
    return {name: summary(seconds) for name, seconds in times.items()}


def mcq_latency(bank: Bank, reps: int) -> dict[str, float]:
    item = bank.get(MCQ)
    if not isinstance(item, McqItem):
        raise BadInput(f"bench item {MCQ!r} is not an mcq item")
    grader = Grader(bank)  # an mcq answer never opens a sandbox
    times = []
    for _ in range(reps + 1):
        started = time.perf_counter()
        grader.grade(item, item.answer)
        times.append(time.perf_counter() - started)
    return summary(times[1:])


def compare(modes: dict[str, Any], floors: dict[str, dict[str, float]]) -> dict[str, Any]:
    """warm/cold p50 ratio and warm p50 over the floor, per item."""
    cold, warm = modes["cold"]["latency"], modes["warm"]["latency"]
    return {
        "warm_cold_ratio": {k: round(warm[k]["p50_ms"] / cold[k]["p50_ms"], 3) for k in warm},
        "warm_over_floor_ms": {
            k: round(warm[k]["p50_ms"] - floors[k]["p50_ms"], 1) for k in warm if k in floors
        },
    }


def run_bench(
    backends: list[str], reps: int, cold_reps: int, throughput_jobs: int | None = None
) -> dict[str, Any]:
    """Every figure of one bench run, as JSON-ready data."""
    from sandbox.errors import SandboxError

    scratch = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    settings = GraderSettings(cache=scratch)  # references computed afresh, in the scratch folder
    bank = load_bank([settings.bank])
    jobs = {item_id: code_job(bank, item_id, settings) for item_id in CODE}
    jobs[PREDICT[0]] = predict_job(bank, *PREDICT, settings)
    floors = floor(bank, settings, reps)
    result: dict[str, Any] = {
        "machine": {"cpus": _cpus(), "platform": platform.platform()},
        "reps": {"warm": reps, "cold": cold_reps},
        "mcq": {"item": MCQ, **mcq_latency(bank, reps)},
        "floor": floors,
        "backends": {},
    }
    for backend in backends:
        try:
            modes = {
                mode: bench_mode(
                    backend, mode, jobs, reps if mode == "warm" else cold_reps, throughput_jobs
                )
                for mode in MODES
                if mode == "cold" or backend in WARM_BACKENDS
            }
        except SandboxError as exc:
            result["backends"][backend] = {"available": False, "why": str(exc)}
            continue
        ratios = compare(modes, floors) if "warm" in modes else {}
        result["backends"][backend] = {"available": True, **modes, **ratios}
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def bench_text(result: dict[str, Any]) -> str:
    """The figures as a table: per backend and item, cold and warm p50/p95, floor, ratio."""
    mcq = result["mcq"]
    lines = [
        f"machine: {result['machine']['cpus']} CPUs; reps warm {result['reps']['warm']}, "
        f"cold {result['reps']['cold']}",
        f"mcq answer ({mcq['item']}, no sandbox): p50 {mcq['p50_ms']} ms, p95 {mcq['p95_ms']} ms",
        "backend  item                           cold p50/p95 ms     warm p50/p95 ms   "
        "floor p50  warm-floor  warm/cold",
    ]
    for backend, figures in result["backends"].items():
        if not figures["available"]:
            lines.append(f"{backend}: unavailable ({figures['why']})")
            continue
        if "warm" not in figures:
            lines += _cold_only(backend, figures, result["floor"])
            continue
        for item, warm in figures["warm"]["latency"].items():
            cold = figures["cold"]["latency"][item]
            lines.append(
                f"{backend:<8} {item:<30} {cold['p50_ms']:>8} /{cold['p95_ms']:>8}  "
                f"{warm['p50_ms']:>8} /{warm['p95_ms']:>8}  {result['floor'][item]['p50_ms']:>9}  "
                f"{figures['warm_over_floor_ms'][item]:>10}  {figures['warm_cold_ratio'][item]:>9}"
            )
        rates = {mode: figures[mode]["throughput_per_s"] for mode in MODES}
        lines.append(
            f"{backend:<8} throughput {THROUGHPUT_ITEM} (jobs/s): cold c=1 {rates['cold']['1']}, "
            f"c=2 {rates['cold']['2']}; warm c=1 {rates['warm']['1']}, c=2 {rates['warm']['2']}"
        )
    return "\n".join(lines)


def _cold_only(backend: str, figures: dict[str, Any], floors: dict[str, Any]) -> list[str]:
    """A backend without a warm pool: its cold figures and the floor."""
    lines = [
        f"{backend:<8} {item:<30} {cold['p50_ms']:>8} /{cold['p95_ms']:>8}  "
        f"{'(no warm pool)':>18}  {floors[item]['p50_ms']:>9}"
        for item, cold in figures["cold"]["latency"].items()
    ]
    rates = figures["cold"]["throughput_per_s"]
    lines.append(
        f"{backend:<8} throughput {THROUGHPUT_ITEM} (jobs/s): cold c=1 {rates['1']}, "
        f"c=2 {rates['2']}"
    )
    return lines
