"""What only the process backend does: its jail, its fallbacks and its refusals.

The shared behaviour is in `test_contract.py`; here are the host-specific parts: what is in force
as root, what a run without the jail or without cgroups still gives, and when it refuses.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from sandbox.base import GpuPolicy, Limits, MiB, RunRequest, RunResult
from sandbox.errors import IsolationRefused, SandboxUnavailable
from sandbox.process import ProcessSandbox
from sandbox.process import cgroups as process_cgroups
from sandbox.process import jail as process_plan
from sandbox.process import seccomp as process_seccomp
from sandbox.process.cgroups import RunCgroups
from sandbox.settings import REPO_ROOT, SandboxSettings

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the jail needs root")


@pytest.fixture(scope="module")
def settings() -> SandboxSettings:
    settings = SandboxSettings()
    if not (settings.runtime / "bin" / "python").exists():
        pytest.skip(f"no sandbox runtime at {settings.runtime}: run `make runtime`")
    return settings


def sh(sandbox: ProcessSandbox, script: str, limits: Limits | None = None) -> RunResult:
    request = RunRequest(argv=("/bin/sh", "-c", script), limits=limits or Limits(wall_s=10))
    return sandbox.run(request)


def test_a_missing_runtime_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="make runtime"):
        ProcessSandbox(SandboxSettings(runtime=tmp_path / "none"))


HAS_GPU = any(Path("/dev").glob("nvidia[0-9]*"))


@pytest.mark.skipif(HAS_GPU, reason="this host has an NVIDIA GPU")
def test_a_required_gpu_is_refused_without_one(settings: SandboxSettings) -> None:
    sandbox = ProcessSandbox(settings)
    with pytest.raises(SandboxUnavailable, match="no NVIDIA GPU"):
        sandbox.run(RunRequest(argv=("true",), limits=Limits(gpu=GpuPolicy.REQUIRED)))


def test_gpu_nodes_follow_the_policy(tmp_path: Path) -> None:
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1"):
        (tmp_path / name).touch()
    nodes = process_plan.gpu_nodes
    assert nodes(Limits(), tmp_path) == []
    assert nodes(Limits(gpu=GpuPolicy.OPTIONAL), tmp_path) == [
        "nvidiactl",
        "nvidia-uvm",
        "nvidia0",
        "nvidia1",
    ]
    required = Limits(gpu=GpuPolicy.REQUIRED, gpu_devices=("1",))
    assert nodes(required, tmp_path) == ["nvidiactl", "nvidia-uvm", "nvidia1"]
    assert nodes(Limits(gpu=GpuPolicy.REQUIRED), tmp_path / "empty") == []


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="no NVIDIA GPU on this host (/dev/nvidia0 absent)")
def test_a_cuda_job_runs_in_the_process_sandbox(settings: SandboxSettings) -> None:
    code = (
        "import torch; x = torch.ones(256, 256, device='cuda'); "
        "print(torch.cuda.get_device_name(0), float((x @ x).sum()))"
    )
    limits = Limits(gpu=GpuPolicy.REQUIRED, wall_s=120, cpu_s=120, memory_bytes=8 << 30)
    result = ProcessSandbox(settings).run(RunRequest(argv=("python", "-c", code), limits=limits))
    assert result.exit_code == 0, result.stderr.decode(errors="replace")[-500:]
    assert result.stdout.decode().split()[-1] == str(256.0 * 256 * 256)


@needs_root
def test_every_isolation_is_in_force_as_root(settings: SandboxSettings) -> None:
    sandbox = ProcessSandbox(settings)
    assert sandbox.degraded is None
    assert sh(sandbox, "true").isolation.missing() == []


@needs_root
def test_the_jail_holds_only_what_the_plan_mounts(settings: SandboxSettings) -> None:
    sandbox = ProcessSandbox(settings)
    runtime = sandbox.runtime
    system = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc"}
    mine = {"home", "tmp", "opt", "sys", runtime.base.parts[1]}
    top = set(sh(sandbox, "ls -A /").stdout.decode().split())
    assert top <= system | mine
    assert sh(sandbox, "ls -A /opt").stdout.decode().split() == ["runtime", "torch"]
    assert sh(sandbox, f"ls -A {REPO_ROOT}").stdout == b"", "the checkout is not in the jail"
    fds = sh(sandbox, "ls /proc/self/fd").stdout.decode().split()
    assert len(fds) <= 5, f"more than stdio, the channel and ls's own directory: {fds}"
    assert sh(sandbox, "hostname").stdout == b"sandbox\n"


@needs_root
def test_run_cgroups_kill_their_processes_and_go_away() -> None:
    controllers = process_cgroups.available()
    if not controllers:
        pytest.skip("no cgroup v1 controller can be delegated here")
    sleeper = subprocess.Popen(["sleep", "60"])
    with RunCgroups(controllers) as cgroups:
        dirs = list(cgroups.dirs.values())
        cgroups.limit(64 * MiB, 8)
        for procs in cgroups.procs_files:
            Path(procs).write_text(str(sleeper.pid))
        assert cgroups.pids() == {sleeper.pid}
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    assert not [path for path in dirs if path.exists()]


@needs_root
def test_without_the_jail_a_run_is_weaker_and_says_so(settings: SandboxSettings) -> None:
    sandbox = ProcessSandbox(settings, jail=False)
    result = sh(sandbox, "id -u; pwd; ls")
    uid, cwd, *files = result.stdout.decode().split()
    assert result.ok and uid != "0" and files == []
    assert not Path(cwd).exists()  # the staging directory is gone after the run
    missing = set(result.isolation.missing())
    assert missing == {"network", "filesystem", "private_tmp"}


@needs_root
def test_a_required_isolation_is_refused_not_weakened(settings: SandboxSettings) -> None:
    strict = SandboxSettings(runtime=settings.runtime, require_isolation=frozenset({"network"}))
    with pytest.raises(IsolationRefused, match="network"):
        sh(ProcessSandbox(strict, jail=False), "true")
    assert sh(ProcessSandbox(strict), "true").ok


def test_without_cgroups_rlimit_data_stands_in_for_memory(settings: SandboxSettings) -> None:
    sandbox = ProcessSandbox(settings, cgroups=False)
    bomb = "blocks = []\nwhile True: blocks.append(b'x' * (16 << 20))"
    request = RunRequest(argv=("python", "-c", bomb), limits=Limits(memory_bytes=256 * MiB))
    result = sandbox.run(request)
    assert result.memory_exceeded and not result.ok
    assert result.isolation.memory
    assert result.peak_memory_bytes is not None and result.peak_memory_bytes < 400 * MiB


@needs_root
def test_the_peak_is_the_programs_not_the_hosts(settings: SandboxSettings) -> None:
    """Linux keeps a process's peak across exec: a launcher forked by a big host starts with the
    host's. The jail's init measures the program alone."""
    ballast = b"x" * (512 * MiB)  # written, so resident in this (host) process
    result = ProcessSandbox(settings, cgroups=False).run(RunRequest(argv=("python", "-c", "")))
    assert result.ok and len(ballast) == 512 * MiB
    assert result.peak_memory_bytes is not None and result.peak_memory_bytes < 256 * MiB


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_filter_is_whole_instructions(machine: str) -> None:
    code = process_seccomp.program(machine)
    assert code is not None and len(code) % 8 == 0 and len(code) // 8 < 64


def test_an_unknown_architecture_gets_no_filter() -> None:
    assert process_seccomp.program("sparc64") is None
