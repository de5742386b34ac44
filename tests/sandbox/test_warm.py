"""The warm path of the process sandbox: pooled zygotes, one forked child per job.

The contract tests and the hostile corpus run on it through the `sandbox` fixture
(`process-warm`); here is what only the warm path has: the runs really are warm, the zygote has
not touched CUDA, one student's state never reaches the next job of the same zygote, and what
cannot run warm still runs (cold).
"""

from __future__ import annotations

import json
import mmap
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.ops.bench import (
    BackendFigures,
    BenchReport,
    Comparison,
    Latency,
    Load,
    Machine,
    McqFigures,
    ModeFigures,
    Reps,
    Unavailable,
    bench_text,
    percentile,
    run_bench,
    summary,
)
from sandbox.base import Limits, MiB, RunRequest, RunResult
from sandbox.process import ProcessSandbox
from sandbox.settings import SandboxSettings
from sandbox.warm import program as warm_program
from tests.sandbox.conftest import _wait_warm
from tests.sandbox.preloading import assert_preloaded_harness

QUICK = Limits(wall_s=20, cpu_s=20, memory_bytes=512 * MiB)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the warm pool needs the jail (root)")


@pytest.fixture(scope="module")
def warm() -> Iterator[ProcessSandbox]:
    """One zygote only, so consecutive jobs are forked from the same process."""
    settings = SandboxSettings(warm=True, pool_size=1)
    if not (settings.runtime / "bin" / "python").exists():
        pytest.skip(f"no sandbox runtime at {settings.runtime}: run `make runtime`")
    sandbox = ProcessSandbox(settings)
    if sandbox.warm is None:
        pytest.skip(f"no warm pool on this host: {sandbox.degraded or 'cgroups missing'}")
    sandbox.prestart()
    _wait_warm(sandbox)  # a run finding no zygote ready would go cold
    assert sandbox.warm_ready()
    yield sandbox
    sandbox.close()


def run(sandbox: ProcessSandbox, code: str, env: dict[str, str] | None = None) -> RunResult:
    request = RunRequest(argv=("python", "-c", code), limits=QUICK, env=env or {})
    return sandbox.run(request)


@needs_root
def test_runs_are_warm_and_the_zygote_never_touched_cuda(warm: ProcessSandbox) -> None:
    code = (
        "import sys, json\n"
        "warm = 'torch' in sys.modules and 'torchvision' in sys.modules\n"
        "import torch\n"
        "print(json.dumps([warm, torch.cuda.is_initialized()]))"
    )
    result = run(warm, code)
    assert result.ok, result.stderr
    assert json.loads(result.stdout) == [True, False]
    _wait_warm(warm)


@needs_root
def test_cold_setting_starts_a_fresh_interpreter() -> None:
    settings = SandboxSettings(warm=False)
    if not (settings.runtime / "bin" / "python").exists():
        pytest.skip(f"no sandbox runtime at {settings.runtime}")
    sandbox = ProcessSandbox(settings)
    assert sandbox.warm is None
    result = run(sandbox, "import sys; print('torch' in sys.modules)")
    assert result.stdout == b"False\n"


PLANT = """
import os, sys, time, torch
secret = os.environ["SECRET"]
for where in (".", "/tmp", "/dev/shm"):
    with open(os.path.join(where, "left-by-" + secret), "w") as out:
        out.write(secret)
torch.left_behind = secret
os.environ["LEFT_BEHIND"] = secret
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", secret])
print("PLANTED", flush=True)
"""

LOOK = """
import json, os, sys, torch
secret = os.environ["SECRET"]
found = []
for where in (".", "/tmp", "/dev/shm"):
    found += [f"{where}/{n}" for n in os.listdir(where) if secret in n]
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        if secret.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
            found.append(f"process {pid}")
    except OSError:
        pass
if getattr(torch, "left_behind", None) or "LEFT_BEHIND" in os.environ:
    found.append("interpreter state")
print(json.dumps(found))
"""


@needs_root
def test_one_students_state_never_reaches_the_next_job(warm: ProcessSandbox) -> None:
    secret = secrets.token_hex(8)
    planted = run(warm, PLANT, {"SECRET": secret})
    assert planted.ok and b"PLANTED" in planted.stdout, planted.stderr
    _wait_warm(warm)  # the same zygote, ready again
    looked = run(warm, LOOK, {"SECRET": secret})
    assert looked.ok, looked.stderr
    assert json.loads(looked.stdout) == []


@needs_root
def test_programs_that_cannot_run_warm_still_run(warm: ProcessSandbox) -> None:
    shell = warm.run(RunRequest(argv=("/bin/sh", "-c", "echo shell"), limits=QUICK))
    assert shell.stdout == b"shell\n"
    flagged = warm.run(RunRequest(argv=("python", "-B", "-c", "print('flag')"), limits=QUICK))
    assert flagged.stdout == b"flag\n"


@needs_root
def test_a_script_runs_as_main_with_its_arguments(warm: ProcessSandbox) -> None:
    files = {"main.py": b"import sys\nprint(__name__, sys.argv)\nraise SystemExit('bye')\n"}
    request = RunRequest(argv=("python", "-I", "main.py", "a"), files=files, limits=QUICK)
    result = warm.run(request)
    assert result.stdout == b"__main__ ['main.py', 'a']\n"
    assert (result.exit_code, result.stderr) == (1, b"bye\n")


def test_percentiles_use_the_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile([1.0, 2.0], 0.95) == 2.0
    assert summary([0.010, 0.020, 0.030]) == Latency(p50_ms=20.0, p95_ms=30.0, n=3)


def test_bench_text_lays_out_every_item_and_unavailable_backends() -> None:
    figures = Latency(p50_ms=10.0, p95_ms=12.0, n=3)
    latency = {"binary-metrics": figures}
    result = BenchReport(
        machine=Machine(cpus=2, platform="test"),
        reps=Reps(warm=3, cold=1),
        mcq=McqFigures("q", figures),
        floor={"binary-metrics": figures},
        backends={
            "process": BackendFigures(
                cold=ModeFigures(latency, {1: Load(figures, 1), 2: Load(figures, 2)}),
                warm=ModeFigures(latency, {1: Load(figures, 9), 4: Load(figures, 8)}),
                compared=Comparison({"binary-metrics": 1.0}, {"binary-metrics": 0.0}, 1.5),
            ),
            "docker": Unavailable("no engine"),
        },
    )
    text = bench_text(result)
    assert "process  binary-metrics" in text
    assert "warm under load, binary-metrics (p50/p95): c=1 10.0/12.0 ms, 9/s; c=4" in text
    assert "p95 at c=4 / p95 at c=1: 1.5" in text
    assert "docker: unavailable (no engine)" in text
    assert result.to_json()["docker_over_process"] is None


def test_docker_is_compared_with_the_process_backend_at_each_concurrency() -> None:
    figures = Latency(p50_ms=10.0, p95_ms=12.0, n=3)

    def backend(rate: float) -> BackendFigures:
        mode = ModeFigures({}, {1: Load(figures, rate), 2: Load(figures, 2 * rate)})
        return BackendFigures(cold=mode, warm=mode, compared=Comparison({}, {}, 1.0))

    result = BenchReport(
        machine=Machine(cpus=2, platform="test"),
        reps=Reps(warm=3, cold=1),
        mcq=McqFigures("q", figures),
        floor={},
        backends={"process": backend(20.0), "docker": backend(10.0)},
    )
    assert result.docker_over_process() == {"1": 0.5, "2": 0.5}
    assert "docker warm / process warm, binary-metrics jobs/s: c=1 0.5, c=2 0.5" in bench_text(
        result
    )


@needs_root
@pytest.mark.slow
@pytest.mark.torch
def test_bench_smoke_gives_every_figure() -> None:
    result = run_bench(["process"], reps=1, cold_reps=1, throughput_jobs=2)
    figures = result.backends["process"]
    assert isinstance(figures, BackendFigures)
    assert figures.warm is not None and figures.compared is not None
    items = {"binary-metrics", "replace-head-5-classes", "predict-resnet18-batch-shape"}
    assert set(result.floor) == items
    for mode in (figures.cold, figures.warm):
        assert set(mode.latency) == items
        assert set(mode.load) <= {1, 2, 4} and {1, 2} <= set(mode.load)
        assert all(v.n == 1 and v.p50_ms > 0 for v in mode.latency.values())
    assert set(figures.compared.warm_cold_ratio) == items
    assert result.mcq.latency.n == 1
    written = json.loads(json.dumps(result.to_json()))["backends"]["process"]
    assert list(written) == [
        "available",
        "cold",
        "warm",
        "warm_cold_ratio",
        "warm_over_floor_ms",
        "p95_load_ratio",
    ]
    assert "process  binary-metrics" in bench_text(result)


def _huge_kib(smaps_rollup: str) -> int:
    line = next(line for line in smaps_rollup.splitlines() if line.startswith("AnonHugePages:"))
    return int(line.split()[1])


def _thp_available() -> bool:
    try:
        return "[never]" not in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


needs_thp = pytest.mark.skipif(not _thp_available(), reason="no transparent huge pages here")


@needs_thp
def test_huge_pages_back_private_memory_and_leave_files_alone() -> None:
    region = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.write(b"x" * len(region))  # 16384 small pages, all present
    before = _huge_kib(Path("/proc/self/smaps_rollup").read_text())
    collapsed = warm_program.huge_pages()
    after = _huge_kib(Path("/proc/self/smaps_rollup").read_text())
    assert collapsed >= 60 << 20 and after - before >= 60 << 10
    region.seek(0)
    assert region.read(4) == b"xxxx"  # the same bytes, now in huge pages
    region.close()


def test_huge_pages_change_nothing_on_an_older_kernel_or_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert warm_program.huge_pages(str(tmp_path / "no-maps")) == 0  # unreadable: nothing, no error
    uname = os.uname()
    older = os.uname_result((*uname[:2], "5.15.0-91-generic", *uname[3:]))
    monkeypatch.setattr(warm_program.os, "uname", lambda: older)
    assert warm_program.huge_pages() == 0  # before 6.1: not even the hint is given


@needs_root
@needs_thp
def test_a_warm_job_shares_the_zygotes_huge_pages(warm: ProcessSandbox) -> None:
    result = run(warm, "print(open('/proc/self/smaps_rollup').read())")
    assert result.ok, result.stderr
    assert _huge_kib(result.stdout.decode()) > 100 << 10  # torch's heap, at least 100 MiB of it
    _wait_warm(warm)


@needs_root
def test_a_job_carrying_the_harness_runs_it_preloaded_and_no_other_job_sees_it(
    warm: ProcessSandbox,
) -> None:
    assert_preloaded_harness(warm, "process")


def test_a_preload_is_the_folders_modules_and_matches_only_them_byte_for_byte(
    tmp_path: Path,
) -> None:
    from sandbox.warm.preload import Preload

    folder = tmp_path / "harness"
    folder.mkdir()
    (folder / "__init__.py").write_bytes(b"host side")
    (folder / "a.py").write_bytes(b"A = 1\n")
    preload = Preload.read(folder)
    assert preload is not None and dict(preload.sources) == {"a.py": b"A = 1\n"}
    job = {"harness/a.py": b"A = 1\n", "harness/__pycache__/a.pyc": b"?", "submission.py": b""}

    def strip(files: dict[str, bytes], argv: tuple[str, ...] = ("python", "-c", "")) -> object:
        return preload.strip(RunRequest(argv=argv, files=files))

    assert strip(job) == {"submission.py": b""}
    assert strip({**job, "harness/a.py": b"A = 2\n"}) is None
    assert strip({"submission.py": b""}) is None
    assert strip(job, ("python", "harness/a.py")) is None  # a script may read its files
    assert Preload.read(None) is None and Preload.read(tmp_path / "absent") is None
    assert SandboxSettings(warm_files="").warm_files is None


def test_a_preload_that_does_not_import_whole_leaves_no_module_behind() -> None:
    import sys

    from sandbox.warm.importer import import_sources

    fails = {"p_one.py": b"import p_two\nraise RuntimeError('no')\n", "p_two.py": b"X = 2\n"}
    assert import_sources(fails, "/nowhere") == []
    assert "p_one" not in sys.modules and "p_two" not in sys.modules  # p_two came with p_one
    taken = {"json.py": b"X = 1\n"}  # a name the interpreter has already
    assert import_sources(taken, "/nowhere") == [] and hasattr(sys.modules["json"], "dumps")
    works = {"p_three.py": b"import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\n"}
    path = list(sys.path)
    assert import_sources(works, "/nowhere") == ["p_three"] and sys.path == path
    assert sys.modules.pop("p_three").__file__ == "/nowhere/p_three.py"
