"""`grader bench` and `grader hostile` figures: typed, and the JSON they print and write
(`.cache/bench.json`) byte for byte what it was when they were plain dicts. Fixed numbers; no
sandbox, no bank, no subprocess."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import grader.ops.bench as bench
import grader.ops.hostile as hostile
from grader.cli.ops import cmd_bench, cmd_hostile
from grader.ops.bench import (
    BackendFigures,
    BenchReport,
    Comparison,
    Latency,
    Load,
    ModeFigures,
    Unavailable,
    bench_text,
    compare,
    summary,
)
from grader.ops.hostile import HostileFigures, HostileUnavailable, figures_text
from sandbox.errors import SandboxError

BM, PRED = "binary-metrics", "predict-resnet18-batch-shape"
TIMES = {
    "cold": {BM: [0.5123, 0.4871, 0.6002], PRED: [1.2, 1.3, 1.25]},
    "warm": {BM: [0.0412, 0.0398, 0.0455], PRED: [0.31, 0.29, 0.3]},
}
RATES = {"cold": {1: 1.83, 2: 3.1}, "warm": {1: 20.5, 2: 35.0, 4: 36.0}}
LOAD = Latency(40.0, 50.0, 8)
FLOOR = {BM: [0.0101, 0.0122, 0.0113], PRED: [0.2, 0.21, 0.19]}

LATENCY = {
    "cold": {
        BM: {"p50_ms": 512.3, "p95_ms": 600.2, "n": 3},
        PRED: {"p50_ms": 1250.0, "p95_ms": 1300.0, "n": 3},
    },
    "warm": {
        BM: {"p50_ms": 41.2, "p95_ms": 45.5, "n": 3},
        PRED: {"p50_ms": 300.0, "p95_ms": 310.0, "n": 3},
    },
}
LOADED = {"p50_ms": 40.0, "p95_ms": 50.0, "n": 8}
COLD = {
    "latency": LATENCY["cold"],
    "concurrency": {"1": {**LOADED, "per_s": 1.83}, "2": {**LOADED, "per_s": 3.1}},
}
#: What the dict-built `run_bench` gave for these numbers (captured before the dataclasses).
EXPECTED = {
    "machine": {"cpus": 2, "platform": "Linux-test-x86_64"},
    "reps": {"warm": 3, "cold": 3},
    "mcq": {"item": "finetuning-purpose", "p50_ms": 0.25, "p95_ms": 0.31, "n": 3},
    "floor": {
        BM: {"p50_ms": 11.3, "p95_ms": 12.2, "n": 3},
        PRED: {"p50_ms": 200.0, "p95_ms": 210.0, "n": 3},
    },
    "backends": {
        "process": {
            "available": True,
            "cold": COLD,
            "warm": {
                "latency": LATENCY["warm"],
                "concurrency": {
                    "1": {**LOADED, "per_s": 20.5},
                    "2": {**LOADED, "per_s": 35.0},
                    "4": {"p50_ms": 80.0, "p95_ms": 90.0, "n": 32, "per_s": 36.0},
                },
            },
            "warm_cold_ratio": {BM: 0.08, PRED: 0.24},
            "warm_over_floor_ms": {BM: 29.9, PRED: 100.0},
            "p95_load_ratio": 1.8,
        },
        "docker": {"available": False, "why": "no Docker engine"},
        "plain": {"available": True, "cold": COLD},
    },
    "docker_over_process": None,
}
EXPECTED_TEXT = """\
machine: 2 CPUs; reps warm 3, cold 3
mcq answer (finetuning-purpose, no sandbox): p50 0.25 ms, p95 0.31 ms
backend  item                           cold p50/p95 ms     warm p50/p95 ms   floor p50  warm-floor  warm/cold
process  binary-metrics                    512.3 /   600.2      41.2 /    45.5       11.3        29.9       0.08
process  predict-resnet18-batch-shape     1250.0 /  1300.0     300.0 /   310.0      200.0       100.0       0.24
process  cold under load, binary-metrics (p50/p95): c=1 40.0/50.0 ms, 1.83/s; c=2 40.0/50.0 ms, 3.1/s
process  warm under load, binary-metrics (p50/p95): c=1 40.0/50.0 ms, 20.5/s; c=2 40.0/50.0 ms, 35.0/s; c=4 80.0/90.0 ms, 36.0/s
process  p95 at c=4 / p95 at c=1: 1.8
docker: unavailable (no Docker engine)
plain    binary-metrics                    512.3 /   600.2      (no warm pool)       11.3
plain    predict-resnet18-batch-shape     1250.0 /  1300.0      (no warm pool)      200.0
plain    cold under load, binary-metrics (p50/p95): c=1 40.0/50.0 ms, 1.83/s; c=2 40.0/50.0 ms, 3.1/s"""  # noqa: E501


def mode_figures(mode: str) -> ModeFigures:
    loads = {c: Load(LOAD if c < 4 else Latency(80.0, 90.0, 32), r) for c, r in RATES[mode].items()}
    return ModeFigures({k: summary(v) for k, v in TIMES[mode].items()}, loads)


@pytest.fixture
def report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> BenchReport:
    """`run_bench` on three backends (warm, unavailable, cold only) with every timing stubbed."""

    def fake_mode(
        backend: str, mode: str, jobs: object, reps: int, count: int | None = None
    ) -> ModeFigures:
        if backend == "docker":
            raise SandboxError("no Docker engine")
        return mode_figures(mode)

    class Settings:
        bank = tmp_path

    monkeypatch.setattr(bench.tempfile, "mkdtemp", lambda prefix="": str(tmp_path))
    monkeypatch.setattr(bench, "GraderSettings", lambda **_: Settings())
    monkeypatch.setattr(bench, "load_bank", lambda paths: None)
    monkeypatch.setattr(bench, "code_job", lambda *_: None)
    monkeypatch.setattr(bench, "predict_job", lambda *_: None)
    monkeypatch.setattr(bench, "floor", lambda *_: {k: summary(v) for k, v in FLOOR.items()})
    monkeypatch.setattr(bench, "mcq_latency", lambda *_: summary([0.0002, 0.00031, 0.00025]))
    monkeypatch.setattr(bench, "bench_mode", fake_mode)
    monkeypatch.setattr(bench, "_cpus", lambda: 2)
    monkeypatch.setattr(bench.platform, "platform", lambda: "Linux-test-x86_64")
    return bench.run_bench(["process", "docker", "plain"], reps=3, cold_reps=3)


def test_the_report_is_typed(report: BenchReport) -> None:
    process, docker, plain = (report.backends[b] for b in ("process", "docker", "plain"))
    assert isinstance(process, BackendFigures) and process.available
    assert process.warm is not None and process.compared is not None
    assert process.warm.latency[BM] == Latency(41.2, 45.5, 3)
    assert process.compared == Comparison({BM: 0.08, PRED: 0.24}, {BM: 29.9, PRED: 100.0}, 1.8)
    assert docker == Unavailable("no Docker engine") and not docker.available
    assert isinstance(plain, BackendFigures) and plain.warm is None and plain.compared is None
    assert report.floor[PRED] == Latency(200.0, 210.0, 3)


def test_to_json_is_the_dict_it_always_was(report: BenchReport) -> None:
    """Same keys, same order, same number types: the bytes written do not change."""
    assert json.dumps(report.to_json(), indent=2) == json.dumps(EXPECTED, indent=2)
    assert json.loads(json.dumps(report.to_json())) == EXPECTED


def test_bench_text_reads_the_dataclasses(report: BenchReport) -> None:
    assert bench_text(report) == EXPECTED_TEXT


def test_latency_and_comparison_figures() -> None:
    assert summary([0.010, 0.020, 0.030]).to_json() == {"p50_ms": 20.0, "p95_ms": 30.0, "n": 3}
    floors = {BM: Latency(40.0, 50.0, 3)}
    compared = compare(mode_figures("cold"), mode_figures("warm"), floors)
    assert compared.warm_over_floor_ms == {BM: 1.2}  # the item without a floor has no entry
    assert list(compared.to_json()) == ["warm_cold_ratio", "warm_over_floor_ms", "p95_load_ratio"]


HOSTILE = [
    HostileFigures(
        "process",
        tried=3,
        contained=2,
        host_damage=["fork-bomb: pids left"],
        lost=1,
        failures={
            "fork-bomb": ["still running", "fork-bomb: pids left"],
            "net": ["lost: timed out"],
        },
    ),
    HostileFigures("process", 3, 3, [], 0, {}),
    HostileUnavailable("docker", "no engine"),
]
#: `json.dumps` and `figures_text` of each, as they were when the figures were dicts.
HOSTILE_OUT = [
    (
        '{"backend": "process", "available": true, "tried": 3, "contained": 2, "host_damage": '
        '["fork-bomb: pids left"], "lost": 1, "failures": {"fork-bomb": ["still running", '
        '"fork-bomb: pids left"], "net": ["lost: timed out"]}}',
        "process: tried 3, contained 2, host damage 1, lost 1\n"
        "  fork-bomb: still running; fork-bomb: pids left\n  net: lost: timed out",
    ),
    (
        '{"backend": "process", "available": true, "tried": 3, "contained": 3, "host_damage": [], '
        '"lost": 0, "failures": {}}',
        "process: tried 3, contained 3, host damage 0, lost 0",
    ),
    (
        '{"backend": "docker", "available": false, "why": "no engine"}',
        "docker: unavailable (no engine)",
    ),
]


@pytest.mark.parametrize(("figures", "out"), list(zip(HOSTILE, HOSTILE_OUT, strict=True)))
def test_hostile_figures_json_and_text(
    figures: HostileFigures | HostileUnavailable, out: tuple[str, str]
) -> None:
    assert (json.dumps(figures.to_json()), figures_text(figures)) == out


def test_grader_bench_writes_and_prints_the_same_json(
    report: BenchReport,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(bench, "run_bench", lambda *_: report)
    output = tmp_path / "cache" / "bench.json"
    args = argparse.Namespace(backend=None, reps=3, cold_reps=3, json=True, output=output)
    assert cmd_bench(args) == 0
    assert output.read_text() == json.dumps(EXPECTED, indent=2)
    assert capsys.readouterr().out == json.dumps(EXPECTED, indent=2) + "\n"
    args.json = False
    assert cmd_bench(args) == 0
    assert capsys.readouterr().out == EXPECTED_TEXT + "\n"


@pytest.mark.parametrize(("backends", "code"), [((0, 1), 1), ((1,), 0), ((2,), 3), ((1, 2), 0)])
def test_grader_hostile_exit_codes_and_json_lines(
    backends: tuple[int, ...],
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = [f"b{i}" for i in backends]
    by_name = dict(zip(names, (HOSTILE[i] for i in backends), strict=True))
    monkeypatch.setattr(hostile, "hostile_figures", by_name.__getitem__)
    assert cmd_hostile(argparse.Namespace(backend=names, json=True)) == code
    assert capsys.readouterr().out == "".join(HOSTILE_OUT[i][0] + "\n" for i in backends)
