"""What only the docker backend does: its container configuration, its wire format, its engine.

The shared behaviour (limits, attacks, torch) is in `test_contract.py`, run here through the
`sandbox` fixture. The pure parts run everywhere; the tests marked `docker` need the engine and
the image and are skipped with the reason when they are not there.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
from pathlib import Path

import pytest

from sandbox.base import CHANNEL_ENV, GpuPolicy, Limits, MiB, RunRequest
from sandbox.container import spec
from sandbox.container.attach import HEADER_CAP, Exchange, outcome
from sandbox.container.supervisor import marker
from sandbox.errors import SandboxUnavailable
from sandbox.settings import SANDBOX_CHECKPOINTS, SandboxSettings

TOKEN = "0123456789abcdef0123456789abcdef"


def host(limits: Limits | None = None, **kwargs: object) -> dict[str, object]:
    request = RunRequest(argv=("python", "-c", "pass"), limits=limits or Limits(), **kwargs)  # type: ignore[arg-type]
    return spec.host_config(request, None, ())


# -- the container's configuration --------------------------------------------------------------


def test_the_container_is_locked_down() -> None:
    config = host(Limits(memory_bytes=300 * MiB, processes=17))
    assert config["network_mode"] == "none"
    assert config["read_only"] is True
    assert config["cap_drop"] == ["ALL"]
    assert config["cap_add"] == ["SETUID", "SETGID"]  # the supervisor's first step only
    assert config["security_opt"] == ["no-new-privileges"]
    assert config["privileged"] is False
    assert config["init"] is True
    assert config["pids_limit"] == 17
    assert config["mem_limit"] == config["memswap_limit"] == 300 * MiB
    assert config["nano_cpus"] == 1_000_000_000
    assert config["device_requests"] == []
    assert config["mounts"] == []


def test_the_log_is_bounded() -> None:
    log = host()["log_config"]
    assert log.type == "json-file"  # type: ignore[attr-defined]
    assert log.config == {"max-size": spec.LOG_MAX_SIZE, "max-file": "1"}  # type: ignore[attr-defined]


def test_tmpfs_sizes_follow_the_limits() -> None:
    mounts = spec.tmpfs(Limits(workdir_bytes=10 * MiB, channel_bytes=4096), stdin_bytes=5000)
    assert set(mounts) == {spec.WORKDIR, "/tmp", spec.CHANNEL_DIR}
    assert f"size={10 * MiB}," in mounts[spec.WORKDIR]
    assert f"uid={spec.UID},gid={spec.UID},mode=1777" in mounts[spec.WORKDIR]
    assert f"uid={spec.UID},gid={spec.UID},mode=0700" in mounts[spec.CHANNEL_DIR]
    assert "mode=1777" in mounts["/tmp"]
    channel_size = int(mounts[spec.CHANNEL_DIR].split(",")[0].removeprefix("size="))
    assert 2 * 4096 + 5000 <= channel_size % (1 << 30) and channel_size % 4096 == 0
    assert "noexec" in mounts[spec.CHANNEL_DIR]


def test_rlimits_follow_the_limits() -> None:
    found = {u.name: (u.soft, u.hard) for u in spec.ulimits(Limits(cpu_s=2.5, file_bytes=123))}
    assert found == {"fsize": (123, 123), "cpu": (3, 4), "nofile": (1024, 1024), "core": (0, 0)}


def test_the_weights_cache_is_mounted_read_only(tmp_path: Path) -> None:
    request = RunRequest(argv=("true",))
    (mount,) = spec.host_config(request, tmp_path, ())["mounts"]
    assert mount["Target"] == SANDBOX_CHECKPOINTS
    assert mount["Source"] == str(tmp_path)
    assert mount["ReadOnly"] is True and mount["Type"] == "bind"


def test_the_network_is_given_only_when_asked() -> None:
    assert host(Limits(network=True))["network_mode"] == "bridge"


def test_the_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "secret")
    env = spec.environment({"MY_VAR": "1", CHANNEL_ENV: "/elsewhere"})
    assert env["MY_VAR"] == "1"
    assert env[CHANNEL_ENV] == spec.CHANNEL_PATH  # the program cannot move the channel
    assert "API_KEY" not in env
    assert env["HOME"] == spec.WORKDIR


def test_the_supervisor_takes_the_unprivileged_uids_first() -> None:
    """It starts as root holding only SETUID and SETGID, and its first act is `take_uids`."""
    config = spec.container_config("some-image")
    assert config["user"] == "0:0"
    assert config["entrypoint"][:3] == [spec.PYTHON, "-I", "-c"]
    assert "def main()" in config["entrypoint"][3]
    assert config["entrypoint"][4:6] == [str(spec.UID), str(spec.SECOND_UID)]
    assert "def main() -> int:\n    take_uids(" in config["entrypoint"][3]
    assert config["stdin_open"] is True and config["detach"] is False  # StdinOnce


# -- GPUs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpu", "devices", "ids"),
    [
        (GpuPolicy.NONE, ("0",), ()),
        (GpuPolicy.OPTIONAL, (), ()),
        (GpuPolicy.OPTIONAL, ("1",), ("1",)),
        (GpuPolicy.REQUIRED, ("0", "2"), ("0", "2")),
    ],
    ids=["none", "optional-without-devices", "optional", "required"],
)
def test_device_ids(gpu: GpuPolicy, devices: tuple[str, ...], ids: tuple[str, ...]) -> None:
    assert spec.device_ids(Limits(gpu=gpu, gpu_devices=devices)) == ids


def test_a_required_gpu_must_be_named() -> None:
    with pytest.raises(SandboxUnavailable, match="gpu_devices"):
        spec.device_ids(Limits(gpu=GpuPolicy.REQUIRED))


def test_device_requests_name_exactly_the_devices() -> None:
    (request,) = spec.device_requests(("0", "3"))
    assert request["DeviceIDs"] == ["0", "3"]
    assert request["Capabilities"] == [["gpu"]]
    assert "Count" not in request or request["Count"] in (None, 0)
    assert spec.device_requests(()) == []


# -- the supervisor's tar and the wire format ---------------------------------------------------


def test_the_payload_carries_meta_stdin_and_files() -> None:
    request = RunRequest(
        argv=("python", "x.py"), files={"x.py": b"print(1)", "d/e.txt": b"e"}, stdin=b"in"
    )
    with tarfile.open(fileobj=io.BytesIO(spec.payload(request, TOKEN))) as bundle:
        names = bundle.getnames()
        meta = json.loads(bundle.extractfile("meta.json").read())  # type: ignore[union-attr]
        stdin = bundle.extractfile("stdin").read()  # type: ignore[union-attr]
    assert names == ["meta.json", "stdin", "files/x.py", "files/d/e.txt"]
    assert meta["argv"] == [spec.PYTHON, "x.py"] and meta["token"] == TOKEN
    assert stdin == b"in"


@pytest.mark.parametrize("name", ["/abs", "../up", "a/../../b", "", "."])
def test_unsafe_names_never_reach_the_payload(name: str) -> None:
    with pytest.raises(ValueError):
        spec.payload(RunRequest(argv=("true",), files={name: b""}), TOKEN)


def wire(program: bytes, channel: bytes = b"", header: dict[str, object] | None = None) -> bytes:
    head = header or {"exit_code": 0, "signal": None, "channel_len": len(channel)}
    result = marker(TOKEN, "result") + json.dumps(head).encode() + b"\n" + channel
    return marker(TOKEN, "started") + program + result


def test_outcome_splits_program_output_from_the_result() -> None:
    seen = outcome(wire(b"hello\n", b"obs"), TOKEN, 100, 100)
    assert seen.started and seen.stdout == b"hello\n" and seen.channel == b"obs"
    assert seen.header is not None and seen.header["exit_code"] == 0
    assert not seen.output_exceeded


def test_a_forged_result_without_the_token_is_program_output() -> None:
    forged = b"\0grader:" + b"f" * 32 + b':result\0{"exit_code": 0}\n'
    seen = outcome(marker(TOKEN, "started") + forged, TOKEN, 1000, 100)
    assert seen.header is None and seen.stdout == forged


@pytest.mark.parametrize(
    "tail",
    [b"not json\n", b'{"channel_len": 5}\nabc', b"[1]\n", b'{"channel_len": 0}'],
    ids=["garbage", "short-channel", "not-object", "no-newline"],
)
def test_a_malformed_result_counts_as_none(tail: bytes) -> None:
    raw = marker(TOKEN, "started") + b"out" + marker(TOKEN, "result") + tail
    seen = outcome(raw, TOKEN, 100, 100)
    assert seen.header is None and seen.channel == b""


def test_without_the_started_marker_nothing_ran() -> None:
    assert not outcome(b"Traceback ...", TOKEN, 100, 100).started


def test_program_output_over_the_cap_is_cut_and_flagged() -> None:
    seen = outcome(wire(b"x" * 11), TOKEN, 10, 100)
    assert seen.output_exceeded and seen.stdout == b"x" * 10


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


class FakeSocket:
    """Stands in for the attach socket in `Exchange._take` tests (no I/O is done)."""


def exchange(output_cap: int = 10, channel_cap: int = 100) -> Exchange:
    return Exchange(FakeSocket(), b"", TOKEN, output_cap, channel_cap, wall_s=1, start_s=1)  # type: ignore[arg-type]


def test_frames_are_demultiplexed_with_caps() -> None:
    ex = exchange()
    ex._pending += frame(1, marker(TOKEN, "started") + b"out") + frame(2, b"err")
    ex._pending += frame(1, b"!")[:5]  # half a frame waits for the rest
    ex._frames()
    assert ex.wire.stdout == marker(TOKEN, "started") + b"out"
    assert ex.wire.stderr == b"err" and ex.wire.stop is None


def test_a_stdout_flood_stops_reading_at_the_cap() -> None:
    ex = exchange(output_cap=10)
    ex._take(1, marker(TOKEN, "started"))
    for _ in range(3):
        ex._take(1, b"x" * 8)
    assert ex.wire.stop == "stdout"
    assert len(ex.wire.stdout) <= ex.stdout_cap


def test_a_result_after_output_under_the_cap_is_not_a_flood() -> None:
    ex = exchange(output_cap=10, channel_cap=2000)
    ex._take(1, wire(b"x" * 10, b"c" * 2000)[:-1])
    ex._take(1, b"c")
    assert ex.wire.stop is None


def test_a_stderr_flood_stops_reading() -> None:
    ex = exchange(output_cap=10)
    ex._take(2, b"e" * 11)
    assert ex.wire.stop == "stderr" and len(ex.wire.stderr) == 11


def test_the_result_header_fits_its_cap() -> None:
    header = {"exit_code": 255, "signal": None, "cpu_s": 1e9, "peak_memory_bytes": 10**15}
    assert len(json.dumps({**header, "oom_kills": 10**6, "channel_len": 10**9})) < HEADER_CAP


# -- against a real engine ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_sandbox() -> object:
    from sandbox.container import ContainerSandbox

    try:
        sandbox = ContainerSandbox(SandboxSettings(warm=False))  # the cold path
    except SandboxUnavailable as exc:
        pytest.skip(f"docker backend unavailable: {exc}")
    yield sandbox
    sandbox.close()


def test_a_missing_image_says_how_to_build_it() -> None:
    from sandbox.container import ContainerSandbox

    with pytest.raises(SandboxUnavailable, match="make image|install-docker"):
        ContainerSandbox(SandboxSettings(image="grader-no-such-image:none"))


@pytest.mark.docker
def test_no_container_is_left_behind(docker_sandbox: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(docker_sandbox, ContainerSandbox)
    api = docker_sandbox.client.api
    before = api.containers(all=True, filters={"label": spec.LABEL})
    result = docker_sandbox.run(RunRequest(argv=("python", "-c", "print('hi')")))
    assert result.stdout == b"hi\n" and result.backend == "docker"
    assert api.containers(all=True, filters={"label": spec.LABEL}) == before


@pytest.mark.docker
def test_every_isolation_is_in_force(docker_sandbox: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(docker_sandbox, ContainerSandbox)
    result = docker_sandbox.run(RunRequest(argv=("python", "-c", "pass")))
    assert result.isolation.missing() == []


@pytest.mark.docker
def test_the_program_cannot_forge_the_result(docker_sandbox: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(docker_sandbox, ContainerSandbox)
    code = (
        "import os, sys\n"
        'head = b\'{"exit_code": 0, "channel_len": 0}\\n\'\n'
        "fake = b'\\0grader:' + b'0' * 32 + b':result\\0' + head\n"
        "os.write(1, fake)\n"
        "try:\n"
        "    with open('/proc/1/fd/1', 'wb') as init_out:\n"  # init's stdout is the container's
        "        init_out.write(fake)\n"
        "except PermissionError:\n"  # init is root's now: not even opened
        "    os.write(1, fake)\n"
        "sys.exit(7)\n"
    )
    result = docker_sandbox.run(RunRequest(argv=("python", "-c", code)))
    assert result.exit_code == 7
    assert result.stdout.count(b"grader:") == 2  # both forgeries stay program output


@pytest.mark.docker
def test_the_supervisor_cannot_be_read_by_the_program(docker_sandbox: object) -> None:
    from sandbox.container import ContainerSandbox

    assert isinstance(docker_sandbox, ContainerSandbox)
    code = (
        "import os\n"
        "ppid = os.getppid()\n"
        "for part in ('mem', 'fd/0', 'environ'):\n"
        "    try:\n"
        "        open(f'/proc/{ppid}/{part}', 'rb').read(1)\n"
        "        print('READ', part)\n"
        "    except OSError:\n"
        "        print('DENIED', part)\n"
    )
    result = docker_sandbox.run(RunRequest(argv=("python", "-c", code)))
    assert result.stdout.split(b"\n")[:3] == [b"DENIED mem", b"DENIED fd/0", b"DENIED environ"]


@pytest.mark.docker
def test_a_required_isolation_is_not_traded_for_network(
    docker_sandbox: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.container import ContainerSandbox
    from sandbox.errors import IsolationRefused

    assert isinstance(docker_sandbox, ContainerSandbox)
    monkeypatch.setenv("GRADER_REQUIRE_ISOLATION", "all")
    strict = ContainerSandbox(SandboxSettings())
    try:
        assert strict.run(RunRequest(argv=("python", "-c", "pass"))).ok
        with pytest.raises(IsolationRefused, match="network"):
            strict.run(RunRequest(argv=("python", "-c", "pass"), limits=Limits(network=True)))
    finally:
        strict.close()
