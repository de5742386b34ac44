"""What a docker sandbox run looks like to the engine: pure functions, unit-tested.

Every run gets a fresh container: no network, a read-only root, tmpfs for the workdir, /tmp and
the channel, no-new-privileges, pids, memory (swap off) and CPU limits, rlimits, a bounded log,
docker-init as pid 1, and the weights cache read-only. The supervisor starts as root holding only
CAP_SETUID and CAP_SETGID, and its first act takes the unprivileged uid (and the harness runner's
second uid as its real uid), which leaves no capability at all (see `supervisor.py`). Files and
stdin travel in one tar on the container's stdin (see `supervisor.py`), never through a bind
mount of a host path the program could write through.

A warm container (`warm.py`, `zygote.py`) keeps the same hardening but serves many jobs, one at a
time: its zygote keeps CAP_SETUID and CAP_SETGID (and nothing else) for the container's life, to
give each job's child uids no earlier job of the container had; it never reads a job's bytes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import secrets
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from sandbox.base import CHANNEL_ENV, GpuPolicy, Limits, RunRequest
from sandbox.errors import SandboxUnavailable
from sandbox.settings import SANDBOX_CHECKPOINTS, SANDBOX_TORCH_HOME
from sandbox.warm import importer
from sandbox.warm.preload import Preload

#: The runtime's interpreter inside the images (`argv[0] == "python"` means this one).
PYTHON = "/opt/runtime/bin/python"
#: The program's home and working directory (the process sandbox uses the same path).
WORKDIR = "/home/sandbox"
CHANNEL_DIR = "/run/grader"
CHANNEL_PATH = f"{CHANNEL_DIR}/channel"
#: The unprivileged uid and gid every program runs as (the images create this user), and the
#: second uid a child of the program may take (the harness's runner): see `supervisor.py`.
UID, SECOND_UID = 10001, 10002
#: Runs get one CPU's worth of time.
NANO_CPUS = 1_000_000_000
LOG_MAX_SIZE = "1m"
NOFILE = 1024
LABEL = "org.grader.sandbox"
SUPERVISOR = Path(__file__).with_name("supervisor.py")
ZYGOTE = Path(__file__).with_name("zygote.py")
IMPORTER = Path(importer.__file__)
#: The longest argument the preloaded sources may take (Linux: 128 KiB per argument).
MAX_ARGUMENT = 120_000
#: A warm container's jobs each make this folder afresh under their own uid (`zygote.py`).
JOB_WORKDIR = f"{WORKDIR}/job"
#: Where a warm container's job uids are drawn: far above the images' users and the process
#: sandbox's 200000-299999, so that no two live containers are likely to share one.
JOB_UIDS = (1_000_000, 2_000_000_000)
_SLACK = 64 * 1024
#: The stdin a warm container has room for (its channel tmpfs is sized when it is created).
WARM_STDIN_BYTES = 1024 * 1024
#: The least channel a warm container has room for: what the grader's probe runs ask for
#: (`grader.probe.plan.CHANNEL_BYTES`), so runs asking for less (the default `Limits`, which the
#: sandbox's `prestart` fills) share their containers. Each job's channel is still read with
#: its own cap (`attach.Exchange`) and a longer one is reported exceeded, as a cold run's.
WARM_CHANNEL_BYTES = 8 * 1024 * 1024
#: The descriptor a warm job's channel is on (`zygote.py`).
WARM_CHANNEL_FD = 3
#: What a warm container's zygote holds before any job: torch and torchvision imported (~440 MiB
#: RSS, ~375 MiB of it anonymous, measured in grader-sandbox:cpu), with some room to spare. Also
#: the most anonymous memory a warm container may hold after a job's sweep (else it is recycled).
WARM_MEMORY_BYTES = 512 * 1024 * 1024


def device_ids(limits: Limits) -> tuple[str, ...]:
    """The GPUs a run asks for: none, or exactly the devices named in `Limits.gpu_devices`."""
    if limits.gpu is GpuPolicy.NONE:
        return ()
    if limits.gpu is GpuPolicy.REQUIRED and not limits.gpu_devices:
        raise SandboxUnavailable(
            "a run that requires a GPU must name it: set Limits.gpu_devices (e.g. ('0',)); "
            "the docker sandbox never hands out every GPU"
        )
    return tuple(limits.gpu_devices)


def device_requests(ids: tuple[str, ...]) -> list[Any]:
    """The engine's device requests for these GPUs (empty: no GPU at all)."""
    if not ids:
        return []
    import docker.types

    return [docker.types.DeviceRequest(device_ids=list(ids), capabilities=[["gpu"]])]


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The program's whole environment: nothing of the host's is inherited."""
    env = {
        "PATH": "/opt/runtime/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": WORKDIR,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TORCH_HOME": SANDBOX_TORCH_HOME,
        "OMP_NUM_THREADS": "1",  # the container gets one CPU
    }
    env.update(extra)
    env[CHANNEL_ENV] = CHANNEL_PATH
    return env


def tmpfs(limits: Limits, stdin_bytes: int, warm: bool = False) -> dict[str, str]:
    """Sized tmpfs mounts: the workdir and the channel directory belong to the sandbox uid (in a
    warm container the workdir's mount is root's, and each job makes its own folder in it)."""
    owned = f"uid={UID},gid={UID},mode=0700,nosuid,nodev"
    # The workdir is sticky and open to the second uid, like /tmp: the runner reads the staged
    # files and writes its own, and can neither change nor remove the program's.
    shared = "mode=1777,nosuid,nodev" if warm else f"uid={UID},gid={UID},mode=1777,nosuid,nodev"
    channel = _pages(2 * limits.channel_bytes + stdin_bytes + _SLACK)
    return {
        WORKDIR: f"size={_pages(limits.workdir_bytes)},{shared}",
        "/tmp": f"size={_pages(limits.workdir_bytes)},mode=1777,nosuid,nodev",
        CHANNEL_DIR: f"size={channel},{owned},noexec",
    }


def _pages(size: int) -> int:
    return max(4096, math.ceil(size / 4096) * 4096)


def ulimits(limits: Limits) -> list[Any]:
    """File size, CPU seconds (SIGXCPU, then SIGKILL one second later), open files, no cores."""
    import docker.types

    cpu = max(1, math.ceil(limits.cpu_s))
    return [
        docker.types.Ulimit(name="fsize", soft=limits.file_bytes, hard=limits.file_bytes),
        docker.types.Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
        docker.types.Ulimit(name="nofile", soft=NOFILE, hard=NOFILE),
        docker.types.Ulimit(name="core", soft=0, hard=0),
    ]


def host_config(
    request: RunRequest, weights_dir: Path | None, gpus: tuple[str, ...]
) -> dict[str, Any]:
    """Keyword arguments for the engine's host config of one run."""
    limits = request.limits
    return _host_config(
        limits, tmpfs(limits, len(request.stdin)), weights_dir, gpus, ulimits(limits), 0
    )


def warm_host_config(limits: Limits, weights_dir: Path | None) -> dict[str, Any]:
    """A warm container's host config: the same hardening; room for `WARM_STDIN_BYTES` of stdin;
    no CPU-time or file-size rlimit (each job's child sets those, after the zygote's import);
    `WARM_MEMORY_BYTES` more memory, which the zygote's imports use before any job (the
    program's own allocations get the limit, as a process-warm child's do)."""
    import docker.types

    kept = [
        docker.types.Ulimit(name="nofile", soft=NOFILE, hard=NOFILE),
        docker.types.Ulimit(name="core", soft=0, hard=0),
    ]
    room = dataclasses.replace(limits, channel_bytes=warm_channel_bytes(limits))
    mounts = tmpfs(room, WARM_STDIN_BYTES, warm=True)
    return _host_config(limits, mounts, weights_dir, (), kept, WARM_MEMORY_BYTES)


def warm_channel_bytes(limits: Limits) -> int:
    """The channel a warm container for `limits` has room for (fixed when it is created)."""
    return max(limits.channel_bytes, WARM_CHANNEL_BYTES)


def child_rlimits(limits: Limits) -> dict[str, tuple[int, int]]:
    """The rlimits a warm child sets on itself: the ones `ulimits` gives a cold container."""
    cpu = max(1, math.ceil(limits.cpu_s))
    return {"cpu": (cpu, cpu + 1), "fsize": (limits.file_bytes, limits.file_bytes)}


def _host_config(
    limits: Limits,
    mounts: dict[str, str],
    weights_dir: Path | None,
    gpus: tuple[str, ...],
    rlimits: list[Any],
    extra_memory: int,
) -> dict[str, Any]:
    import docker.types

    memory = limits.memory_bytes + extra_memory
    config: dict[str, Any] = {
        "network_mode": "bridge" if limits.network else "none",
        "read_only": True,
        "tmpfs": mounts,
        "cap_drop": ["ALL"],
        # Cold: only for the supervisor's first step: it takes its uids (see `supervisor.py`),
        # which clears every capability before it reads a byte of the job. Warm: the zygote
        # keeps them to give each job fresh uids, and reads no job's bytes (`zygote.py`).
        "cap_add": ["SETUID", "SETGID"],
        "security_opt": ["no-new-privileges"],
        "privileged": False,
        "pids_limit": limits.processes,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": NANO_CPUS,
        "init": True,
        "ipc_mode": "private",
        "shm_size": limits.workdir_bytes,
        "ulimits": rlimits,
        "log_config": docker.types.LogConfig(
            type="json-file", config={"max-size": LOG_MAX_SIZE, "max-file": "1"}
        ),
        "device_requests": device_requests(gpus),
        "mounts": [],
    }
    if weights_dir is not None:
        config["mounts"].append(
            docker.types.Mount(
                target=SANDBOX_CHECKPOINTS, source=str(weights_dir), type="bind", read_only=True
            )
        )
    return config


def container_config(
    image: str, warm_args: tuple[str, ...] = (), labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments for `create_container`, less the host config: the supervisor, stdin;
    with `warm_args` (`warm_args()`) the warm zygote instead (see `zygote.py`)."""
    supervisor = SUPERVISOR.read_text()
    cold = [supervisor, str(UID), str(SECOND_UID)]
    entry = [ZYGOTE.read_text(), supervisor] if warm_args else cold
    return {
        "image": image,
        "entrypoint": [PYTHON, "-I", "-c", *entry, *warm_args],
        "command": [],
        "user": "0:0",
        "working_dir": WORKDIR,
        "hostname": "sandbox",
        # Low-level `create_container` attaches nothing: `detach=False` only records StdinOnce in
        # the config, so that closing our end of the attach socket is EOF on the program's side.
        "detach": False,
        "stdin_open": True,
        "tty": False,
        "labels": dict(labels or {LABEL: "run"}),
    }


def warm_args(
    program_source: str, imports: tuple[str, ...], jobs: int, preload: Preload | None = None
) -> tuple[str, ...]:
    """A warm zygote's arguments: the program runner's source, the imports, a fresh base for its
    job uids (drawn per container), how many jobs it takes, and with a preload the source of
    `sandbox.warm.importer` and the modules' sources (JSON: name -> text)."""
    low, high = JOB_UIDS
    base = low + 2 * secrets.randbelow((high - low) // 2 - jobs)
    args = (program_source, ",".join(imports), str(base), str(jobs))
    texts = json.dumps(preload.texts()) if preload is not None else "null"
    if texts == "null" or len(texts) > MAX_ARGUMENT:
        return args  # jobs carry their own files, as without a preload
    return (*args, IMPORTER.read_text(), texts)


def warm_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """A warm job's environment: a cold run's, with its own workdir and the channel on fd 3."""
    env = environment(extra)
    env["HOME"] = JOB_WORKDIR
    env[CHANNEL_ENV] = f"fd:{WARM_CHANNEL_FD}"
    return env


def payload(
    request: RunRequest,
    token: str,
    warm: Mapping[str, Any] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> bytes:
    """The tar the supervisor reads on stdin: meta.json, stdin, files/<name> (`files`, else the
    request's); a warm server also gets `warm` (the program's plan, environment, rlimits and
    whether it runs preloaded) in the meta."""
    argv = list(request.argv)
    if argv and argv[0] == "python":
        argv[0] = PYTHON
    meta = {
        "argv": argv,
        "token": token,
        "workdir": WORKDIR,
        "channel": CHANNEL_PATH,
        "channel_bytes": request.limits.channel_bytes,
        **(warm or {}),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as bundle:
        _add(bundle, "meta.json", json.dumps(meta).encode())
        _add(bundle, "stdin", request.stdin)
        for name, content in (request.files if files is None else files).items():
            _add(bundle, "files/" + check_name(name), content)
    return buffer.getvalue()


def check_name(name: str) -> str:
    """A relative, normalised file name; ValueError for anything else (as the process backend)."""
    path = PurePosixPath(name)
    if not name or "\0" in name or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"sandbox file name {name!r} must be a relative path without '..'")
    if path.parts in ((), (".",)):
        raise ValueError(f"sandbox file name {name!r} names no file")
    return str(path)


def _add(bundle: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    bundle.addfile(info, io.BytesIO(data))
