"""`grader bench`: a fixed mix graded cold and warm, side by side, per backend, against a floor.

The mix: an mcq answer (no sandbox at all), `binary-metrics` and `replace-head-5-classes` (their
reference solutions, graded end to end by `grade_code`), and `predict-resnet18-batch-shape`
(its snippet run uncached, then the answer judged). Per backend and mode: p50 and p95 latency
per item, then `binary-metrics` back to back at concurrency 1, 2 and 4 (cold: 1 and 2): p50 and
p95 of each run and runs per second, the warm/cold ratio, the floor (the same harness work timed
in-process with no sandbox, `bench_floor.py`, in the sandbox runtime), p95 at concurrency 4 over
p95 at 1, and Docker's warm rate over the process backend's. The warm pool is sized for the
highest concurrency (`SandboxSettings.pool_for`). Latency runs wait for a full warm pool first;
the load runs do not (so they also show a pool's refill rate). Figures, not verdicts: nothing
here asserts a time.

The figures are frozen dataclasses (`BenchReport` down to `Latency`); `BenchReport.to_json()` is
the JSON `grader bench` prints and writes to `.cache/bench.json`.
"""

from __future__ import annotations

import json
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from grader.bank import Bank, load_bank
from grader.bank.solutions import solution_source
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
#: Runs in flight for the load figures (warm; cold stops at 2).
CONCURRENCY = (1, 2, 4)
MODES = ("cold", "warm")
#: Backends with a warm pool; the others are measured cold only.
WARM_BACKENDS = ("process", "docker")
#: Back-to-back `THROUGHPUT_ITEM` jobs per concurrency, at least: enough that a pool which only
#: refills (one job per instance) shows its refill rate, not the instances it started with.
SUSTAINED_JOBS = 40

Job = Callable[[Sandbox], bool]


@dataclass(frozen=True)
class Latency:
    """p50 and p95 of one item's runs, in milliseconds, and how many runs."""

    p50_ms: float
    p95_ms: float
    n: int

    def to_json(self) -> dict[str, float]:
        return {"p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "n": self.n}


@dataclass(frozen=True)
class Load:
    """`THROUGHPUT_ITEM` graded back to back with `concurrency` runs in flight: the latency each
    run saw, and graded runs per second (sustained: the pool refills while it runs)."""

    latency: Latency
    per_s: float

    def to_json(self) -> dict[str, float]:
        return {**self.latency.to_json(), "per_s": self.per_s}


@dataclass(frozen=True)
class ModeFigures:
    """One backend in one mode (cold or warm): latency by item with a ready pool, and the load
    figures by concurrency."""

    latency: dict[str, Latency]
    load: dict[int, Load]

    def to_json(self) -> dict[str, object]:
        return {
            "latency": {item: figures.to_json() for item, figures in self.latency.items()},
            "concurrency": {str(c): load.to_json() for c, load in self.load.items()},
        }


@dataclass(frozen=True)
class Comparison:
    """Per item: warm p50 over cold p50, and warm p50 minus the floor's p50 (ms); and the warm
    p95 at the highest concurrency over the p95 at concurrency 1 (how much waiting for a
    sandbox adds under load)."""

    warm_cold_ratio: dict[str, float]
    warm_over_floor_ms: dict[str, float]
    p95_load_ratio: float

    def to_json(self) -> dict[str, object]:
        return {
            "warm_cold_ratio": dict(self.warm_cold_ratio),
            "warm_over_floor_ms": dict(self.warm_over_floor_ms),
            "p95_load_ratio": self.p95_load_ratio,
        }


@dataclass(frozen=True)
class BackendFigures:
    """A backend that opened: always cold; warm and the comparison where it has a warm pool."""

    available: ClassVar[bool] = True
    cold: ModeFigures
    warm: ModeFigures | None = None
    compared: Comparison | None = None

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"available": True, "cold": self.cold.to_json()}
        if self.warm is not None:
            found["warm"] = self.warm.to_json()
        if self.compared is not None:
            found.update(self.compared.to_json())
        return found


@dataclass(frozen=True)
class Unavailable:
    """A backend that could not be opened, and why."""

    available: ClassVar[bool] = False
    why: str

    def to_json(self) -> dict[str, object]:
        return {"available": False, "why": self.why}


@dataclass(frozen=True)
class Machine:
    cpus: int
    platform: str

    def to_json(self) -> dict[str, object]:
        return {"cpus": self.cpus, "platform": self.platform}


@dataclass(frozen=True)
class Reps:
    """Timed runs per item: warm and cold."""

    warm: int
    cold: int

    def to_json(self) -> dict[str, int]:
        return {"warm": self.warm, "cold": self.cold}


@dataclass(frozen=True)
class McqFigures:
    """The mcq answer's latency (no sandbox)."""

    item: str
    latency: Latency

    def to_json(self) -> dict[str, object]:
        return {"item": self.item, **self.latency.to_json()}


@dataclass(frozen=True)
class BenchReport:
    """Every figure of one bench run."""

    machine: Machine
    reps: Reps
    mcq: McqFigures
    floor: dict[str, Latency]
    backends: dict[str, BackendFigures | Unavailable] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The JSON `grader bench` prints and writes (keys in this order)."""
        return {
            "machine": self.machine.to_json(),
            "reps": self.reps.to_json(),
            "mcq": self.mcq.to_json(),
            "floor": {item: figures.to_json() for item, figures in self.floor.items()},
            "backends": {name: figures.to_json() for name, figures in self.backends.items()},
            "docker_over_process": self.docker_over_process(),
        }

    def docker_over_process(self) -> dict[str, float] | None:
        """Docker warm runs per second over the process backend's, per concurrency; None unless
        both were measured warm."""
        docker, process = self.backends.get("docker"), self.backends.get("process")
        if not isinstance(docker, BackendFigures) or not isinstance(process, BackendFigures):
            return None
        if docker.warm is None or process.warm is None:
            return None
        ours, theirs = docker.warm.load, process.warm.load
        return {str(c): round(ours[c].per_s / theirs[c].per_s, 3) for c in ours if c in theirs}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p50 of 5 values is the 3rd smallest)."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summary(seconds: list[float]) -> Latency:
    """p50 and p95 in milliseconds, and the count."""
    return Latency(
        p50_ms=round(percentile(seconds, 0.5) * 1000, 3),
        p95_ms=round(percentile(seconds, 0.95) * 1000, 3),
        n=len(seconds),
    )


def code_job(bank: Bank, item_id: str, settings: GraderSettings) -> Job:
    """Grade the item's reference solution through `Grader`, as a student's upload would be."""
    item = bank.get(item_id)
    if not isinstance(item, CodeItem):
        raise BadInput(f"bench item {item_id!r} is not a code item")
    # Rendered for the item as loaded (its variant of seed 0, when it varies).
    source = Source(solution_source(item, settings.solutions / item_id / "reference.py"))

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
    replacement starts in the background): latency with a ready pool; the load figures
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


def under_load(job: Job, sandbox: Sandbox, jobs: int, concurrency: int) -> Load:
    """`jobs` graded runs with `concurrency` in flight: each one's latency, and runs per second."""
    times: list[float] = []

    def one(_: int) -> bool:
        started = time.perf_counter()
        passed = job(sandbox)
        times.append(time.perf_counter() - started)
        return passed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(jobs)))
    took = time.perf_counter() - started
    if not all(results):
        raise RuntimeError(f"a bench run did not pass on {sandbox.name}")
    return Load(summary(times), round(jobs / took, 2))


def open_mode(backend: str, mode: str, concurrency: int, wait_s: float = 300.0) -> Sandbox:
    """The backend with warm pools on or off, the pool sized for `concurrency` runs in flight
    (unless GRADER_POOL_SIZE says otherwise); a warm one is waited for until its pool is full."""
    settings = SandboxSettings()
    warm = mode == "warm"
    settings = settings.model_copy(
        update={"warm": warm, "pool_size": settings.pool_for(concurrency)}
    )
    sandbox = open_sandbox(backend, settings)
    wait_warm(sandbox, wait_s)
    return sandbox


def bench_mode(
    backend: str, mode: str, jobs: dict[str, Job], reps: int, count: int | None = None
) -> ModeFigures:
    """Latency per item with a ready pool, then `THROUGHPUT_ITEM` at each concurrency (warm:
    `CONCURRENCY`; cold: 1 and 2, since a cold run is seconds of CPU on a small machine)."""
    levels = CONCURRENCY if mode == "warm" else CONCURRENCY[:2]
    sandbox = open_mode(backend, mode, max(levels))
    try:
        latency = {name: summary(timed(job, sandbox, reps)) for name, job in jobs.items()}
        load = {
            c: under_load(jobs[THROUGHPUT_ITEM], sandbox, count or _load_jobs(mode, reps, c), c)
            for c in levels
        }
    finally:
        sandbox.close()
    return ModeFigures(latency, load)


def _load_jobs(mode: str, reps: int, concurrency: int) -> int:
    """Jobs per load figure: warm, enough to show a sustained rate; cold, `reps` per lane."""
    if mode == "warm":
        return max(SUSTAINED_JOBS, reps, 8 * concurrency)
    return max(2, reps) * concurrency


def floor(bank: Bank, settings: GraderSettings, reps: int) -> dict[str, Latency]:
    """The code and predict items' harness work, timed in-process in the sandbox runtime."""
    requests = []
    for item_id in CODE:
        item = bank.get(item_id)
        assert isinstance(item, CodeItem)
        source = solution_source(item, settings.solutions / item_id / "reference.py")
        plan = build_plan(item.checks)
        data = bank.data_files(item)
        requests.append((item_id, harness_request(source, plan, limits_for(item), data)))
    predict = bank.get(PREDICT[0])
    assert isinstance(predict, PredictItem)
    from grader.probe.plan import ProbePlan

    empty = ProbePlan([], [], "snippet")
    requests.append((predict.id, harness_request(predict.snippet, empty, limits_for(predict))))
    jobs = [
        {
            "name": name,
            "files": {k: v.decode("latin-1") for k, v in r.files.items()},
            "code": r.argv[-1],
        }
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


def mcq_latency(bank: Bank, reps: int) -> Latency:
    item = bank.get(MCQ)
    if not isinstance(item, McqItem):
        raise BadInput(f"bench item {MCQ!r} is not an mcq item")
    grader = Grader(bank)  # an mcq answer never opens a sandbox
    times = []
    for _ in range(reps + 1):
        started = time.perf_counter()
        grader.grade(item, item.answer or "A")
        times.append(time.perf_counter() - started)
    return summary(times[1:])


def compare(cold: ModeFigures, warm: ModeFigures, floors: dict[str, Latency]) -> Comparison:
    """warm/cold p50 ratio and warm p50 over the floor, per item; p95 under load over p95 alone."""
    colds, warms = cold.latency, warm.latency
    alone, loaded = warm.load[min(warm.load)], warm.load[max(warm.load)]
    return Comparison(
        warm_cold_ratio={k: round(warms[k].p50_ms / colds[k].p50_ms, 3) for k in warms},
        warm_over_floor_ms={
            k: round(warms[k].p50_ms - floors[k].p50_ms, 1) for k in warms if k in floors
        },
        p95_load_ratio=round(loaded.latency.p95_ms / alone.latency.p95_ms, 2),
    )


def run_bench(
    backends: list[str], reps: int, cold_reps: int, throughput_jobs: int | None = None
) -> BenchReport:
    """Every figure of one bench run (`.to_json()` for the JSON)."""
    from sandbox.errors import SandboxError

    scratch = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    settings = GraderSettings(cache=scratch)  # references computed afresh, in the scratch folder
    bank = load_bank([settings.bank])
    jobs = {item_id: code_job(bank, item_id, settings) for item_id in CODE}
    jobs[PREDICT[0]] = predict_job(bank, *PREDICT, settings)
    floors = floor(bank, settings, reps)
    mcq = McqFigures(MCQ, mcq_latency(bank, reps))
    figures: dict[str, BackendFigures | Unavailable] = {}
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
            figures[backend] = Unavailable(str(exc))
            continue
        cold, warm = modes["cold"], modes.get("warm")
        compared = compare(cold, warm, floors) if warm is not None else None
        figures[backend] = BackendFigures(cold, warm, compared)
    return BenchReport(
        machine=Machine(cpus=_cpus(), platform=platform.platform()),
        reps=Reps(warm=reps, cold=cold_reps),
        mcq=mcq,
        floor=floors,
        backends=figures,
    )


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def bench_text(result: BenchReport) -> str:
    """The figures as a table: per backend and item, cold and warm p50/p95, floor, ratio."""
    mcq = result.mcq
    lines = [
        f"machine: {result.machine.cpus} CPUs; reps warm {result.reps.warm}, "
        f"cold {result.reps.cold}",
        f"mcq answer ({mcq.item}, no sandbox): p50 {mcq.latency.p50_ms} ms, "
        f"p95 {mcq.latency.p95_ms} ms",
        "backend  item                           cold p50/p95 ms     warm p50/p95 ms   "
        "floor p50  warm-floor  warm/cold",
    ]
    for backend, figures in result.backends.items():
        if isinstance(figures, Unavailable):
            lines.append(f"{backend}: unavailable ({figures.why})")
            continue
        if figures.warm is None or figures.compared is None:
            lines += _cold_only(backend, figures.cold, result.floor)
            continue
        compared = figures.compared
        for item, warm in figures.warm.latency.items():
            cold = figures.cold.latency[item]
            lines.append(
                f"{backend:<8} {item:<30} {cold.p50_ms:>8} /{cold.p95_ms:>8}  "
                f"{warm.p50_ms:>8} /{warm.p95_ms:>8}  {result.floor[item].p50_ms:>9}  "
                f"{compared.warm_over_floor_ms[item]:>10}  {compared.warm_cold_ratio[item]:>9}"
            )
        lines += _load_lines(backend, figures.cold, figures.warm)
        lines.append(
            f"{backend:<8} p95 at c={max(CONCURRENCY)} / p95 at c=1: {compared.p95_load_ratio}"
        )
    ratio = result.docker_over_process()
    if ratio is not None:
        shown = ", ".join(f"c={c} {r}" for c, r in ratio.items())
        lines.append(f"docker warm / process warm, {THROUGHPUT_ITEM} jobs/s: {shown}")
    return "\n".join(lines)


def _cold_only(backend: str, cold: ModeFigures, floors: dict[str, Latency]) -> list[str]:
    """A backend without a warm pool: its cold figures and the floor."""
    lines = [
        f"{backend:<8} {item:<30} {figures.p50_ms:>8} /{figures.p95_ms:>8}  "
        f"{'(no warm pool)':>18}  {floors[item].p50_ms:>9}"
        for item, figures in cold.latency.items()
    ]
    return lines + _load_lines(backend, cold, None)


def _load_lines(backend: str, cold: ModeFigures, warm: ModeFigures | None) -> list[str]:
    """Per mode and concurrency: p50/p95 of each run and runs per second."""
    lines = []
    for mode, figures in (("cold", cold), ("warm", warm)):
        if figures is None:
            continue
        shown = "; ".join(
            f"c={c} {load.latency.p50_ms}/{load.latency.p95_ms} ms, {load.per_s}/s"
            for c, load in figures.load.items()
        )
        lines.append(f"{backend:<8} {mode} under load, {THROUGHPUT_ITEM} (p50/p95): {shown}")
    return lines
