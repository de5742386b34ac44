"""What the process sandbox's launcher is told to build: the minimal root, env and rlimits.

The host plans, the launcher (`launcher.py`) executes. The program sees a read-only root
holding only the system (`/usr` and its links), the runtime venv and the Python it was made from,
the weights cache, a minimal `/etc` and `/dev`, a private `/proc`, and three small tmpfs mounts it
may write: its home (the workdir, holding a copy of `request.files`), `/tmp` and `/dev/shm`.
The repository, the grader's files and other runs' workdirs are not in it.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sandbox.base import GpuPolicy, Limits
from sandbox.settings import SANDBOX_CHECKPOINTS

HOME = "/home/sandbox"
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_NVIDIA_CONTROL = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "fd/0", "stdout": "fd/1", "stderr": "fd/2"}

Op = dict[str, Any]
#: Resource name (`RLIMIT_CPU`, ...) -> [soft, hard].
Rlimits = dict[str, list[int]]

#: Where the runtime venv appears inside the jail (a venv finds its packages from pyvenv.cfg
#: beside its bin/, so it works from any path).
JAIL_RUNTIME = "/opt/runtime"


@dataclass(frozen=True)
class Runtime:
    """The runtime venv and the base Python install its interpreter links to."""

    venv: Path
    base: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def jailed(self) -> Runtime:
        """The same runtime as the program sees it inside the jail: the venv at a fixed path,
        so a checkout anywhere (even under /tmp, which the jail replaces) still runs."""
        return Runtime(venv=Path(JAIL_RUNTIME), base=self.base)

    @classmethod
    def find(cls, venv: Path) -> Runtime | None:
        """Read the venv's `pyvenv.cfg`; None when there is no usable runtime there."""
        venv = venv.resolve()
        try:
            config = (venv / "pyvenv.cfg").read_text()
        except OSError:
            return None
        pairs = (line.split("=", 1) for line in config.splitlines() if "=" in line)
        home = {key.strip(): value.strip() for key, value in pairs}.get("home")
        if not home or not (venv / "bin" / "python").exists():
            return None
        return cls(venv=venv, base=Path(home).resolve().parent)


def check_files(files: Mapping[str, bytes]) -> list[PurePosixPath]:
    """Relative, normalised names only: no absolute paths, no `..`, nothing empty."""
    names = []
    for name in files:
        path = PurePosixPath(name)
        if not name or "\0" in name or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"sandbox file name {name!r} must be a relative path without '..'")
        if path.parts in ((), (".",)):
            raise ValueError(f"sandbox file name {name!r} names no file")
        names.append(path)
    return names


def check_request(argv: Sequence[str], env: Mapping[str, str], files: Mapping[str, bytes]) -> None:
    """Refuse what no program could be started with: raise ValueError naming the field."""
    if not argv or not argv[0]:
        raise ValueError("sandbox argv must name a program")
    if any("\0" in part for part in argv):
        raise ValueError("sandbox argv must not contain NUL bytes")
    for name, value in env.items():
        if not name or "=" in name or "\0" in name + value:
            raise ValueError(f"sandbox env variable {name!r} is not a valid name=value pair")
    check_files(files)


def stage_files(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` under `directory` (the host's own staging area, never the program's)."""
    for path, content in zip(check_files(files), files.values(), strict=True):
        target = directory.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def environment(
    extra: Mapping[str, str], runtime: Runtime, home: str, torch_home: str
) -> dict[str, str]:
    """The program's whole environment: nothing of the host's is inherited."""
    env = {
        "PATH": f"{runtime.venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TORCH_HOME": torch_home,
    }
    env.update(extra)
    return env


def rlimits(limits: Limits, *, own_uid: bool, data: bool) -> Rlimits:
    """CPU, file size and core always; processes only under a uid of the run's own.

    `data`: without a memory cgroup, RLIMIT_DATA (private writable memory, Linux >= 4.7) stands
    in, per process. Not RLIMIT_AS: the runtime maps huge shared libraries, and measured here
    `import torch, torchvision` plus a matmul fails under 3 GiB of address space (passes at
    3.5 GiB), while it passes under 1 GiB of RLIMIT_DATA (fails at 768 MiB).
    """
    cpu = max(1, math.ceil(limits.cpu_s))
    found: Rlimits = {
        "RLIMIT_CPU": [cpu, cpu + 1],
        "RLIMIT_FSIZE": [limits.file_bytes, limits.file_bytes],
        "RLIMIT_CORE": [0, 0],
    }
    if own_uid:
        found["RLIMIT_NPROC"] = [limits.processes, limits.processes]
    if data:
        found["RLIMIT_DATA"] = [limits.memory_bytes, limits.memory_bytes]
    return found


def _bind(src: Path | str, dst: str, **flags: bool) -> Op:
    return {"op": "bind", "src": str(src), "dst": dst, **flags}


def _system() -> list[Op]:
    ops: list[Op] = [_bind("/usr", "/usr")]
    for name in _SYSTEM_LINKS:
        host = Path("/", name)
        if host.is_symlink():
            ops.append({"op": "symlink", "target": os.readlink(host), "dst": f"/{name}"})
        elif host.is_dir():
            ops.append(_bind(host, f"/{name}"))
    return ops


def _etc(uid: int, gid: int) -> list[Op]:
    users = f"root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}::{HOME}:/bin/sh\n"
    groups = f"root:x:0:\nsandbox:x:{gid}:\n"
    ops: list[Op] = [
        {"op": "dir", "dst": "/etc"},
        {"op": "file", "dst": "/etc/passwd", "content": users},
        {"op": "file", "dst": "/etc/group", "content": groups},
        {"op": "file", "dst": "/etc/hosts", "content": "127.0.0.1 localhost\n::1 localhost\n"},
    ]
    for name in _ETC_FILES:
        if Path("/etc", name).exists():
            ops.append(_bind(Path("/etc", name).resolve(), f"/etc/{name}"))
    return ops


def _python(runtime: Runtime, weights_dir: Path) -> list[Op]:
    """The base install, the venv (unless it lies inside the base) and the weights cache."""
    ops = [_bind(runtime.base, str(runtime.base)), _bind(runtime.venv, JAIL_RUNTIME)]
    if weights_dir.is_dir():
        ops.append(_bind(weights_dir.resolve(), SANDBOX_CHECKPOINTS))
    else:
        ops.append({"op": "dir", "dst": SANDBOX_CHECKPOINTS})
    return ops


def gpu_nodes(limits: Limits, dev: Path = Path("/dev")) -> list[str]:
    """The NVIDIA device nodes a run gets: the control nodes and the GPUs it asked for (all of
    the host's when it named none); none without a GPU policy or without a GPU on the host."""
    if limits.gpu is GpuPolicy.NONE:
        return []
    gpus = sorted(p.name for p in dev.glob("nvidia[0-9]*"))
    if limits.gpu_devices:
        gpus = [name for name in gpus if name.removeprefix("nvidia") in limits.gpu_devices]
    if not gpus:
        return []
    control = [n for n in _NVIDIA_CONTROL if (dev / n).exists()]
    return control + gpus


def _dev(limits: Limits) -> list[Op]:
    ops: list[Op] = [{"op": "dir", "dst": "/dev"}]
    names = [*_DEVICES, *gpu_nodes(limits)]
    ops += [_bind(f"/dev/{name}", f"/dev/{name}", ro=False, device=True) for name in names]
    ops += [{"op": "symlink", "target": t, "dst": f"/dev/{n}"} for n, t in _DEV_LINKS.items()]
    ops.append(_tmpfs("/dev/shm", limits.workdir_bytes, "1777"))
    return ops


def _tmpfs(dst: str, size: int, mode: str, owner: str = "") -> Op:
    return {"op": "tmpfs", "dst": dst, "options": f"size={size},mode={mode}{owner}"}


def _cpu_info() -> list[Op]:
    """torch's cpuinfo reads the CPU topology from sysfs; bind that part read-only."""
    cpu = Path("/sys/devices/system/cpu")
    return [_bind(cpu, str(cpu))] if cpu.is_dir() else []


#: The home is the program's, sticky and open to its second uid (like /tmp): the runner reads
#: the staged files and writes its own, and can neither change nor remove the program's.
HOME_MODE = "1777"
#: Per-run uids are drawn from this range (no host account owns them), in pairs: the program's
#: own (even) and a second one (odd) that a child of the program may take (the harness's runner).
UID_BASE, UID_SPAN = 200_000, 100_000


def draw_uids() -> tuple[int, int]:
    """A run's uid and its second uid."""
    uid = UID_BASE + 2 * secrets.randbelow(UID_SPAN // 2)
    return uid, uid + 1


def mounts(limits: Limits, runtime: Runtime, weights_dir: Path, files: Path, uid: int) -> list[Op]:
    """The plan of the program's root, in the order the launcher applies it."""
    owner = f",uid={uid},gid={uid}"
    return [
        *_system(),
        *_etc(uid, uid),
        *_python(runtime, weights_dir),
        *_cpu_info(),
        *_dev(limits),
        {"op": "proc", "dst": "/proc"},
        _tmpfs("/tmp", limits.workdir_bytes, "1777"),
        _tmpfs(HOME, limits.workdir_bytes, HOME_MODE, owner),
        {"op": "copy", "src": str(files), "dst": HOME, "uid": uid, "gid": uid},
    ]


def job_mounts(limits: Limits, uid: int) -> list[Op]:
    """A warm job's fresh writable mounts, laid over its zygote's (`zygote.py`)."""
    return [
        _tmpfs("/tmp", limits.workdir_bytes, "1777"),
        _tmpfs("/dev/shm", limits.workdir_bytes, "1777"),
        _tmpfs(HOME, limits.workdir_bytes, HOME_MODE, f",uid={uid},gid={uid}"),
    ]


def etc_files(uid: int) -> dict[str, str]:
    """/etc/passwd and /etc/group naming the run's own uid."""
    ops = {op["dst"]: op["content"] for op in _etc(uid, uid) if op["op"] == "file"}
    return {"passwd": ops["/etc/passwd"], "group": ops["/etc/group"]}
