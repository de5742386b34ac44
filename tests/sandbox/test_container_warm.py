"""The warm path of the docker sandbox: long-lived containers, one job at a time.

The contract tests and the hostile corpus run on it through the `sandbox` fixture
(`docker-warm`); here is what only the warm path has: the runs really are warm and nothing
touched CUDA, one student's state never reaches the next job (which runs in the same container:
`test_docker_warm_reuse.py` has the rest of that), stale containers of a crashed grader are
removed, and what cannot run warm still runs (cold). Skipped with the reason when there is no
engine or image.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from sandbox.base import Limits, MiB, RunRequest, RunResult
from sandbox.container import spec
from sandbox.container.warm import (
    OWNER_LABEL,
    Budgets,
    owner_alive,
    owner_id,
    profile,
    remove_stale,
)
from sandbox.errors import SandboxUnavailable
from sandbox.settings import SandboxSettings
from tests.sandbox.conftest import _wait_warm
from tests.sandbox.preloading import assert_preloaded_harness
from tests.sandbox.test_warm import LOOK, PLANT

pytestmark = pytest.mark.docker
QUICK = Limits(wall_s=20, cpu_s=20)


@pytest.fixture(scope="module")
def warm() -> Iterator[object]:
    """Pools of one container, so consecutive jobs meet in it."""
    from sandbox.container import ContainerSandbox

    try:
        sandbox = ContainerSandbox(SandboxSettings(warm=True, pool_size=1))
    except SandboxUnavailable as exc:
        pytest.skip(f"docker backend unavailable: {exc}")
    sandbox.prestart()
    _wait_warm(sandbox)
    assert sandbox.warm_ready()
    yield sandbox
    sandbox.close()


def run(sandbox: object, code: str, env: dict[str, str] | None = None) -> RunResult:
    from sandbox.container import ContainerSandbox

    assert isinstance(sandbox, ContainerSandbox)
    result = sandbox.run(RunRequest(argv=("python", "-c", code), limits=QUICK, env=env or {}))
    _wait_warm(sandbox)  # the next run finds the container (or its replacement) ready
    return result


def warm_ids(sandbox: object) -> set[str]:
    from sandbox.container import ContainerSandbox

    assert isinstance(sandbox, ContainerSandbox)
    mine = [f"{spec.LABEL}=warm", f"{OWNER_LABEL}={owner_id()}"]  # not another grader's pool
    found = sandbox.client.api.containers(all=True, filters={"label": mine})
    return {str(c["Id"]) for c in found}


def test_runs_are_warm_and_nothing_touched_cuda(warm: object) -> None:
    code = (
        "import sys, json\n"
        "warm = 'torch' in sys.modules and 'torchvision' in sys.modules\n"
        "import torch\n"
        "print(json.dumps([warm, torch.cuda.is_initialized(), sys.argv]))"
    )
    result = run(warm, code)
    assert result.ok, result.stderr
    assert json.loads(result.stdout) == [True, False, ["-c"]]


def test_one_students_state_never_reaches_the_next_job(warm: object) -> None:
    secret = secrets.token_hex(8)
    planted = run(warm, PLANT, {"SECRET": secret})
    assert planted.ok and b"PLANTED" in planted.stdout, planted.stderr
    looked = run(warm, LOOK, {"SECRET": secret})
    assert looked.ok, looked.stderr
    assert json.loads(looked.stdout) == []


def test_jobs_run_in_the_zygotes_children_and_the_container_serves_on(warm: object) -> None:
    before = warm_ids(warm)
    assert before  # pool size 1, ready (and its successor, once it nears its last jobs)
    mode = "import os; print(b'def zygote(' in open(f'/proc/{os.getppid()}/cmdline','rb').read())"
    assert run(warm, mode).stdout == b"True\n"  # its parent is the container's zygote
    assert before <= warm_ids(warm)  # the containers serve on: none was replaced by a job


def test_the_token_never_reaches_the_program(warm: object) -> None:
    code = (
        "import os, re\n"
        "seen = open('/proc/self/cmdline','rb').read() + repr(dict(os.environ)).encode()\n"
        "print(len(re.findall(rb'[0-9a-f]{32}', seen)))\n"
    )
    assert run(warm, code).stdout == b"0\n"


def test_programs_that_cannot_run_warm_still_run(warm: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(warm, ContainerSandbox)
    shell = warm.run(RunRequest(argv=("/bin/sh", "-c", "echo shell"), limits=QUICK))
    assert shell.stdout == b"shell\n"
    cold = warm.run(
        RunRequest(
            argv=("python", "-c", "import sys; print(len(sys.modules) < 200)"),
            stdin=b"x" * (spec.WARM_STDIN_BYTES + 1),  # no room for it in a warm container
            limits=QUICK,
        )
    )
    assert cold.stdout == b"True\n"  # a fresh interpreter: nothing imported ahead of it


def test_stale_containers_of_a_gone_grader_are_removed(warm: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(warm, ContainerSandbox)
    api = warm.client.api
    gone = owner_id().rsplit(":", 1)[0] + ":0"  # this pid, another start time: not us
    labels = {spec.LABEL: "warm", OWNER_LABEL: gone}
    config = spec.container_config(warm.settings.image, labels=labels)
    created = api.create_container(**{**config, "entrypoint": ["true"]})
    mine = warm_ids(warm) - {created["Id"]}
    removed = remove_stale(warm.client, max_age_s=3600)
    assert created["Id"] in removed
    assert warm_ids(warm) == mine  # the live pool's own containers stay


def test_owner_ids_tell_live_from_gone() -> None:
    assert owner_alive(owner_id())
    assert not owner_alive(owner_id().rsplit(":", 1)[0] + ":0")


def test_profiles_fix_what_a_container_fixes_at_creation() -> None:
    assert profile(Limits(cpu_s=1, wall_s=1, file_bytes=1)) == profile(Limits())
    assert profile(Limits(memory_bytes=1024 * MiB)) != profile(Limits())


def test_the_graders_channel_shares_the_pool_the_sandbox_prestarts() -> None:
    graders = Limits(channel_bytes=spec.WARM_CHANNEL_BYTES)  # what every probe run asks for
    assert profile(graders) == profile(Limits())  # `prestart` fills the pool a batch uses
    assert profile(Limits(channel_bytes=4 * spec.WARM_CHANNEL_BYTES)) != profile(Limits())
    mounts = spec.warm_host_config(Limits(), None)["tmpfs"]
    assert mounts == spec.warm_host_config(graders, None)["tmpfs"]  # room for the larger


def test_a_fill_staggers_budgets_so_containers_are_not_all_replaced_at_once() -> None:
    budgets = Budgets(50)
    assert [budgets.next(2, held) for held in (0, 1)] == [50, 25]  # the fill from empty
    assert [budgets.next(2, 1) for _ in range(3)] == [50, 50, 50]  # replacements keep it
    assert [budgets.next(2, held) for held in (0, 1)] == [50, 25]  # empty again: staggered
    few, single = Budgets(1), Budgets(4)
    assert [few.next(4, held) for held in range(4)] == [1, 1, 1, 1]  # never 0
    assert [single.next(1, held) for held in (0, 1, 0)] == [4, 4, 4]  # one container: all


def test_the_warm_container_keeps_the_hardening_without_the_cpu_rlimit() -> None:
    config = spec.warm_host_config(Limits(memory_bytes=600 * MiB, processes=9), None)
    assert config["read_only"] and config["init"] and config["network_mode"] == "none"
    assert config["cap_drop"] == ["ALL"] and config["security_opt"] == ["no-new-privileges"]
    memory = 600 * MiB + spec.WARM_MEMORY_BYTES  # the supervisor's imports come on top
    assert config["mem_limit"] == config["memswap_limit"] == memory
    assert config["pids_limit"] == 9
    assert {u.name for u in config["ulimits"]} == {"nofile", "core"}
    assert spec.child_rlimits(Limits(cpu_s=2.5, file_bytes=7)) == {"cpu": (3, 4), "fsize": (7, 7)}


def test_pools_follow_the_number_of_sandboxes_sharing_them(
    warm: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.container.warm import DockerWarm, release_warm, shared_warm

    closed: list[object] = []
    monkeypatch.setattr(DockerWarm, "close", lambda self: closed.append(self))  # none started
    settings = SandboxSettings(warm=True, pool_size=None, pool_idle_s=123.0)
    held = [shared_warm(settings) for _ in range(3)]  # a service with three workers
    assert held[0] is held[2]
    pool = held[0].pool(Limits())
    assert pool.size == 3
    release_warm(held.pop())
    assert pool.size == 2 and held[0].pool(Limits(memory_bytes=64 * MiB)).size == 2
    for shared in held:
        release_warm(shared)
    assert closed == [held[0]]  # the last one out shuts the pools down


def test_a_job_carrying_the_harness_runs_it_preloaded_and_no_other_job_sees_it(
    warm: object,
) -> None:
    assert_preloaded_harness(warm, "docker")  # type: ignore[arg-type]
