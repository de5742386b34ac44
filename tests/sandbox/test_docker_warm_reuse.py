"""A warm Docker container serves many jobs, one at a time, each as clean as a fresh container.

What only the reusing warm path has: consecutive jobs share a container (their uids step by two
from the container's base) yet each sees a fresh workdir, an empty /tmp and /dev/shm and no
process, file or IPC object of the one before; the zygote cannot be signalled or traced; the
container is recycled after `docker_jobs_per_container` jobs and on an anomaly (an OOM kill, a
time limit), and the next job still runs; limits are reported as before. The pure parts (the
exchange that stops at the markers, the recycling rule) run without Docker.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
from collections.abc import Iterator

import pytest

from sandbox.base import Limits, MiB, RunRequest, RunResult
from sandbox.container import spec
from sandbox.container.attach import Exchange, Wire
from sandbox.container.supervisor import marker
from sandbox.container.warm import unfit_for_next
from sandbox.errors import SandboxUnavailable
from sandbox.settings import SandboxSettings
from tests.sandbox.conftest import _wait_warm

#: Every run here has this profile (memory, processes, tmpfs sizes), so all share one pool.
QUICK = Limits(wall_s=20, cpu_s=20, memory_bytes=256 * MiB)
TOKEN = "ab" * 16

#: Prints what a job sees (its uids, its workdir, /tmp, /dev/shm, SysV shm), then leaves a
#: file in each folder, a shared memory segment and a process behind for the next job.
SEE_AND_LEAVE = r"""
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
seen = {
    "uids": [os.getuid(), os.geteuid()],
    "cwd": os.getcwd(),
    "files": {d: sorted(os.listdir(d)) for d in (".", "/tmp", "/dev/shm")},
    "shm": open("/proc/sysvipc/shm").read().splitlines()[1:],
    "others": [p for p in os.listdir("/proc") if p.isdigit()
               and os.stat(f"/proc/{p}").st_uid not in (0, 10001, os.geteuid(), os.getuid())],
}
for d in (".", "/tmp", "/dev/shm"):
    open(os.path.join(d, "left-behind"), "w").write("x")
os.makedirs("/tmp/deep/er", exist_ok=True); os.chmod("/tmp/deep", 0)
libc.shmget(0x5EED, 4096, 0o1000 | 0o666)  # IPC_CREAT, readable by anyone
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"])
print(json.dumps(seen))
"""

ATTACK_ZYGOTE = r"""
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
reached = []
for pid in sorted({os.getppid(), 1} | {int(p) for p in os.listdir("/proc") if p.isdigit()}):
    if pid == os.getpid():
        continue
    try:
        os.kill(pid, signal.SIGKILL)
        reached.append(f"signalled {pid}")
    except OSError:
        pass
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        reached.append(f"traced {pid}")
print(reached)
"""


@pytest.fixture(scope="module")
def docker_settings() -> SandboxSettings:
    return SandboxSettings(warm=True, pool_size=1, docker_jobs_per_container=4)


@pytest.fixture(scope="module")
def warm(docker_settings: SandboxSettings) -> Iterator[object]:
    """One container at a time, so consecutive jobs meet in it whenever it is reused."""
    from sandbox.container import ContainerSandbox

    try:
        sandbox = ContainerSandbox(docker_settings)
    except SandboxUnavailable as exc:
        pytest.skip(f"docker backend unavailable: {exc}")
    sandbox.prestart()
    _wait_warm(sandbox)
    yield sandbox
    sandbox.close()


def run(sandbox: object, code: str, limits: Limits = QUICK) -> RunResult:
    from sandbox.container import ContainerSandbox

    assert isinstance(sandbox, ContainerSandbox)
    result = sandbox.run(RunRequest(argv=("python", "-c", code), limits=limits))
    _wait_warm(sandbox)
    return result


def seen(sandbox: object) -> dict[str, object]:
    result = run(sandbox, SEE_AND_LEAVE)
    assert result.ok, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def fresh_container(sandbox: object) -> int:
    """Run until a container's first job (its uid base is random); that job's effective uid."""
    uids: list[int] = []
    for _ in range(6):
        uid = int(json.loads(run(sandbox, "import os,json; print(os.geteuid())").stdout))
        if uids and uid != uids[-1] + 2:
            return uid
        uids.append(uid)
    raise AssertionError(f"no new container in 6 jobs: {uids}")


@pytest.mark.docker
def test_jobs_share_a_container_and_each_finds_it_clean(warm: object) -> None:
    first = fresh_container(warm)
    views = [seen(warm) for _ in range(3)]  # jobs 2-4 of the container: each leaves it dirty
    euids = [v["uids"][1] for v in views]  # type: ignore[index]
    assert euids == [first + 2, first + 4, first + 6]  # one container, fresh uids each
    for view in views:
        assert view["uids"][0] == view["uids"][1] + 1  # type: ignore[index]  # the runner's uid
        assert view["cwd"] == "/home/sandbox/job"
        assert view["files"] == {".": [], "/tmp": [], "/dev/shm": []}
        assert view["shm"] == [] and view["others"] == []


@pytest.mark.docker
def test_the_container_is_recycled_after_its_jobs(warm: object) -> None:
    first = fresh_container(warm)
    uids = [int(run(warm, "import os; print(os.geteuid())").stdout) for _ in range(4)]
    assert uids[:3] == [first + 2, first + 4, first + 6]  # 4 jobs each (the fixture's setting)
    assert uids[3] != first + 8  # the fifth job ran in a new container


@pytest.mark.docker
def test_the_zygote_cannot_be_signalled_or_traced(warm: object) -> None:
    first = fresh_container(warm)
    attacked = run(warm, ATTACK_ZYGOTE)
    assert attacked.ok and attacked.stdout == b"[]\n", attacked.stderr
    after = json.loads(run(warm, "import os,json; print(os.geteuid())").stdout)
    assert after == first + 4  # the same container served on


@pytest.mark.docker
def test_a_memory_bomb_is_reported_and_its_container_recycled(warm: object) -> None:
    first = fresh_container(warm)
    bomb = "blocks = []\nwhile True:\n    blocks.append(b'x' * (16 << 20))\n"
    result = run(warm, bomb, dataclasses.replace(QUICK, wall_s=40, cpu_s=40))
    assert result.memory_exceeded and not result.ok
    after = run(warm, "import os; print(os.geteuid())")
    assert after.ok and int(after.stdout) != first + 4  # a new container took the next job


@pytest.mark.docker
def test_limits_are_reported_and_a_timeout_recycles(warm: object) -> None:
    first = fresh_container(warm)
    slept = run(warm, "import time; time.sleep(60)", dataclasses.replace(QUICK, wall_s=1.5))
    assert slept.timed_out
    again = fresh_container_uid(warm)
    assert again != first + 4  # the host killed that container: the next job ran in a new one
    burn = run(warm, "while True: pass", dataclasses.replace(QUICK, cpu_s=1))
    assert burn.timed_out and burn.signal is not None
    after = int(run(warm, "import os; print(os.geteuid())").stdout)
    assert after == again + 4  # a CPU limit ends the job, not the container


def fresh_container_uid(sandbox: object) -> int:
    return int(run(sandbox, "import os; print(os.geteuid())").stdout)


# --- without Docker ----------------------------------------------------------------------------


def result_frames(header: dict[str, object], channel: bytes = b"") -> bytes:
    head = json.dumps({**header, "channel_len": len(channel)}).encode() + b"\n"
    return marker(TOKEN, "result") + head + channel


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def exchange(*chunks: bytes) -> Wire:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"".join(chunks))
        return Exchange(ours, b"job", TOKEN, 1000, 1000, 5.0, 5.0, keep_open=True).run()


def test_a_kept_open_exchange_ends_at_the_result_and_the_end_marker() -> None:
    stdout = marker(TOKEN, "started") + b"hello\n" + result_frames({"exit_code": 0}, b"chan")
    wire = exchange(
        frame(1, stdout), frame(2, b"oops\n" + marker(TOKEN, "end")), frame(1, b"next job's")
    )
    assert wire.complete and wire.stop is None
    assert bytes(wire.stderr) == b"oops\n"  # the marker is cut
    assert bytes(wire.stdout) == stdout  # nothing past the result is read


def test_stderr_that_trails_the_result_is_waited_for() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = marker(TOKEN, "started")
        theirs.sendall(frame(1, started + result_frames({"exit_code": 0})))
        wire = Exchange(ours, b"", TOKEN, 1000, 1000, 0.5, 5.0, keep_open=True).run()
    assert not wire.complete and wire.stop == "wall"  # no end marker: never taken as whole


def test_a_stderr_flood_still_stops_a_kept_open_exchange() -> None:
    wire = exchange(frame(1, marker(TOKEN, "started")), frame(2, b"e" * 5000))
    assert wire.stop == "stderr" and not wire.complete


@pytest.mark.parametrize(
    ("header", "fit"),
    [
        ({"clean": True, "oom_kills": 0, "memory_bytes": 400 * MiB}, True),
        ({"clean": False, "oom_kills": 0, "memory_bytes": 400 * MiB}, False),
        ({"clean": True, "oom_kills": 1, "memory_bytes": 400 * MiB}, False),
        ({"clean": True, "oom_kills": 0, "memory_bytes": 900 * MiB}, False),
        ({"oom_kills": 0, "memory_bytes": 400 * MiB}, False),
    ],
    ids=["clean", "dirty-sweep", "oom-kill", "memory-above-threshold", "no-verdict"],
)
def test_only_a_clean_job_leaves_the_container_fit_for_the_next(
    header: dict[str, object], fit: bool
) -> None:
    wire = Wire(stdout=bytearray(marker(TOKEN, "started") + result_frames(header)))
    assert (unfit_for_next(wire, TOKEN, Limits()) is None) is fit


def test_each_container_draws_its_own_job_uids_far_from_everyone_elses() -> None:
    bases = {int(spec.warm_args("src", ("torch",), 50)[2]) for _ in range(20)}
    assert len(bases) > 1  # drawn per container
    low, high = spec.JOB_UIDS
    assert all(low <= base and base + 2 * 50 < high and base % 2 == 0 for base in bases)
    assert low > 299_999  # above the process sandbox's uids


def test_a_warm_job_gets_its_own_workdir_and_the_channel_on_fd_3() -> None:
    env = spec.warm_environment({"X": "1", "SANDBOX_CHANNEL": "/forged"})
    assert env["HOME"] == spec.JOB_WORKDIR and env["X"] == "1"
    assert env["SANDBOX_CHANNEL"] == "fd:3"
    config = spec.container_config("img", spec.warm_args("src", ("torch",), 5))
    assert config["entrypoint"][3] == spec.ZYGOTE.read_text()  # the zygote, not the supervisor
    assert config["entrypoint"][-3:] == ["torch", config["entrypoint"][-2], "5"]
