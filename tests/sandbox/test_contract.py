"""The sandbox contract, run against every backend through the `sandbox` fixture.

Ordinary programs first (exit codes, streams, stdin, files, env, the channel, measurements),
then every attack of the hostile corpus (`sandbox.hostile.corpus`), then torch with pre-trained
weights served offline from the weights cache.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import threading
import time

import pytest

from sandbox.base import CHANNEL_ENV, Isolation, Limits, MiB, RunRequest, RunResult, Sandbox
from sandbox.errors import SandboxError, WeightsError
from sandbox.hostile.corpus import CORPUS, Attack
from sandbox.hostile.probes import run_attack
from sandbox.settings import SandboxSettings
from sandbox.weights import make_standins

QUICK = Limits(wall_s=10, cpu_s=10, memory_bytes=512 * MiB)

WRITE_CHANNEL = f"""
import os
where = os.environ["{CHANNEL_ENV}"]
out = os.fdopen(int(where[3:]), "wb") if where.startswith("fd:") else open(where, "ab")
"""


def run(
    sandbox: Sandbox,
    code: str,
    limits: Limits = QUICK,
    *,
    files: dict[str, bytes] | None = None,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> RunResult:
    request = RunRequest(
        argv=("python", "-c", code), files=files or {}, stdin=stdin, limits=limits, env=env or {}
    )
    return sandbox.run(request)


# -- ordinary programs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("pass", 0),
        ("import sys; sys.exit(3)", 3),
        ("raise SystemExit(255)", 255),
        ("raise ValueError('boom')", 1),
    ],
    ids=["zero", "three", "255", "exception"],
)
def test_exit_code(sandbox: Sandbox, code: str, exit_code: int) -> None:
    result = run(sandbox, code)
    assert (result.exit_code, result.signal) == (exit_code, None)
    assert result.ok is (exit_code == 0)
    assert not (result.timed_out or result.memory_exceeded or result.output_exceeded)


def test_a_signal_is_not_an_exit(sandbox: Sandbox) -> None:
    result = run(sandbox, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert not result.ok
    assert result.signal == signal.SIGKILL or result.exit_code == 128 + signal.SIGKILL
    assert not result.memory_exceeded and not result.timed_out


def test_stdout_and_stderr_are_kept_apart(sandbox: Sandbox) -> None:
    result = run(sandbox, "import sys; print('to out'); print('to err', file=sys.stderr)")
    assert result.stdout == b"to out\n"
    assert result.stderr == b"to err\n"
    assert result.backend == sandbox.name


def test_stdin_reaches_the_program(sandbox: Sandbox) -> None:
    data = secrets.token_bytes(1 * MiB)  # more than a pipe holds: the host must feed as it reads
    code = (
        "import sys, hashlib\n"
        "data = sys.stdin.buffer.read()\n"
        "print(len(data), hashlib.sha256(data).hexdigest())"
    )
    result = run(sandbox, code, stdin=data)
    assert result.stdout.split() == [b"1048576", hashlib.sha256(data).hexdigest().encode()]


def test_files_arrive_alone_in_a_fresh_workdir(sandbox: Sandbox) -> None:
    files = {"main.py": b"print('hi')", "pkg/data.txt": b"\x00\x01 bytes"}
    code = (
        "import os, json\n"
        "found = {}\n"
        "for top, _, names in os.walk('.'):\n"
        "    for n in names:\n"
        "        p = os.path.relpath(os.path.join(top, n))\n"
        "        found[p] = open(p, 'rb').read().hex()\n"
        "print(json.dumps({'files': found, 'home': os.environ['HOME'], 'cwd': os.getcwd()}))"
    )
    seen = json.loads(run(sandbox, code, files=files).stdout)
    assert seen["files"] == {name: data.hex() for name, data in files.items()}
    assert seen["home"] == seen["cwd"]


@pytest.mark.parametrize(
    "name",
    ["/etc/cron.d/evil", "../escape.txt", "a/../../b.txt"],
    ids=["absolute", "up", "up-nested"],
)
def test_unsafe_file_names_are_refused(sandbox: Sandbox, name: str) -> None:
    with pytest.raises((ValueError, SandboxError)):
        run(sandbox, "pass", files={name: b"x"})


def test_env_is_scrubbed_and_extended(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"secret-{secrets.token_hex(8)}"
    monkeypatch.setenv("GRADER_WEBHOOK_SECRET", secret)
    monkeypatch.setenv("DATABASE_PASSWORD", secret)
    result = run(
        sandbox, "import os, json; print(json.dumps(dict(os.environ)))", env={"MY_VAR": "1"}
    )
    env = json.loads(result.stdout)
    assert secret not in result.stdout.decode()
    assert env["MY_VAR"] == "1"
    assert CHANNEL_ENV in env
    assert not [name for name in env if name.startswith("GRADER_")]


def test_the_channel_carries_bytes_apart_from_stdout(sandbox: Sandbox) -> None:
    code = WRITE_CHANNEL + "out.write(b'{\"obs\": 1}\\n'); out.close(); print('stdout only')"
    result = run(sandbox, code)
    assert result.channel == b'{"obs": 1}\n'
    assert result.stdout == b"stdout only\n"
    assert not result.channel_exceeded


def test_the_channel_has_its_own_cap(sandbox: Sandbox) -> None:
    limits = Limits(wall_s=10, channel_bytes=1000, output_bytes=1000)
    result = run(sandbox, WRITE_CHANNEL + "out.write(b'c' * 5000); out.close()", limits)
    assert result.channel_exceeded and not result.output_exceeded
    assert result.channel == b"c" * 1000


def test_cpu_and_wall_time_are_measured(sandbox: Sandbox) -> None:
    result = run(
        sandbox,
        "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass",
    )
    assert result.ok
    assert result.wall_s >= 0.6
    if result.cpu_s is not None:
        assert 0.5 <= result.cpu_s < 5


def test_peak_memory_is_measured(sandbox: Sandbox) -> None:
    result = run(sandbox, "x = b'm' * (200 << 20); print(len(x))")
    assert result.ok
    if result.peak_memory_bytes is not None:
        assert result.peak_memory_bytes >= 150 * MiB


def test_concurrent_runs_do_not_see_each_other(sandbox: Sandbox) -> None:
    plant = (
        "import os, time\n"
        "for d in ('.', '/tmp'):\n"
        "    open(os.path.join(d, 'concurrent-marker'), 'w').write('A')\n"
        "time.sleep(3)\n"
    )
    look = "import os\nprint(sorted(os.listdir('.')) + sorted(os.listdir('/tmp')))"
    first = threading.Thread(target=run, args=(sandbox, plant))
    first.start()
    time.sleep(1.5)
    second = run(sandbox, look)
    first.join()
    assert second.ok
    assert b"concurrent-marker" not in second.stdout


def test_isolation_is_reported(sandbox: Sandbox) -> None:
    isolation = run(sandbox, "pass").isolation
    assert isinstance(isolation, Isolation)
    assert set(isolation.missing()) <= set(vars(isolation))


# -- the hostile corpus -------------------------------------------------------------------------


@pytest.mark.parametrize("attack", CORPUS, ids=[attack.name for attack in CORPUS])
def test_hostile_program_is_contained(sandbox: Sandbox, attack: Attack) -> None:
    verdict = run_attack(sandbox, attack)
    assert verdict.host_damage == []
    assert verdict.problems == []


# -- torch and the weights cache ----------------------------------------------------------------


@pytest.fixture(scope="session")
def standins() -> None:
    """The weights cache holds at least the stand-ins (made once; real files are kept)."""
    try:
        make_standins(SandboxSettings())
    except WeightsError as exc:
        pytest.skip(f"no stand-in weights: {exc}")


LOAD_PRETRAINED = """
import torch, torchvision
from torchvision.models import resnet18, ResNet18_Weights
print(torch.__version__, torchvision.__version__)
model = resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)
print(sum(p.numel() for p in model.parameters()))
torch.manual_seed(0)
fresh = resnet18(weights=None)
pairs = zip(model.state_dict().values(), fresh.state_dict().values())
same = all(torch.equal(a, b) for a, b in pairs)
print("STANDIN" if same else "OTHER")
print(tuple(model(torch.zeros(1, 3, 64, 64)).shape))
"""


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.usefixtures("standins")
def test_torch_loads_pretrained_weights_offline(sandbox: Sandbox) -> None:
    limits = Limits(wall_s=120, cpu_s=120, memory_bytes=3072 * MiB)
    result = run(sandbox, LOAD_PRETRAINED, limits)
    assert result.ok, result.stderr.decode(errors="replace")[-2000:]
    versions, params, kind, shape = result.stdout.decode().split("\n")[:4]
    assert versions.startswith("2.14.1") and " 0.29.1" in versions
    assert params == "11689512"
    assert kind in ("STANDIN", "OTHER")  # OTHER: the operator put the real file in the cache
    assert shape == "(1, 1000)"
