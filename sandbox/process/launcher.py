"""The process sandbox's launcher: builds the jail, drops privileges and runs the program.

The host starts this file with its own Python (`python -I -S launcher.py SPEC.json`) as
the leader of a new session. It imports the standard library only, and everything it needs up
front: after `pivot_root` the host's files are gone.

    outer (host pid namespace): unshare(mount, net, pid, ipc, uts), fork, wait, exit
      └─ init (pid 1 of the new namespace): mounts the minimal root, pivot_root, forks, reaps
           └─ program: joins the run's cgroups, rlimits, no_new_privs, drops capabilities and
              uid, exec

When init exits the kernel kills whatever is left in its pid namespace, so no daemonised child
outlives a run. Init reports the program's exit status and peak memory as one JSON line on the
status fd, a pipe that only the launcher holds; setup failures are reported there as
`{"error": ...}`.

In `direct` mode (no namespaces on this host) the launcher applies the rlimits and execs at once.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import signal
import stat
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2

SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

#: The host's `sandbox.process.spec.LaunchSpec`, read back from JSON as a plain dict (this file
#: runs in the jail on the standard library alone), plus `status_fd`.
Spec = dict[str, Any]

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """Raised when the jail cannot be built; reported to the host as a sandbox failure."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)} (errno {errno})")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None) -> None:
    encoded = [None if part is None else part.encode() for part in (src, dst, fstype, data)]
    _check(_libc.mount(*encoded[:3], ctypes.c_ulong(flags), encoded[3]), f"mount {dst}")


def _prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def _pivot_root(new_root: str) -> None:
    """`pivot_root(".", ".")` then detach the old root, as pivot_root(2) describes."""
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise SetupError(f"pivot_root: unknown syscall number on {platform.machine()}")
    os.chdir(new_root)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


# -- building the root --------------------------------------------------------------------------


def _bind(root: str, op: Spec) -> None:
    src, dst = op["src"], root + op["dst"]
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.close(os.open(dst, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(src, dst, None, MS_BIND | MS_REC, None)
    # A bind mount takes new flags only on a remount; keep the source's noexec if it had one.
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (os.statvfs(dst).f_flag & MS_NOEXEC)
    if op.get("ro", True):
        flags |= MS_RDONLY
    if not op.get("device", False):
        flags |= MS_NODEV
    _mount(None, dst, None, flags, None)


def _tmpfs(root: str, op: Spec) -> None:
    dst = root + op["dst"]
    os.makedirs(dst, exist_ok=True)
    _mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, op["options"])


def _copy_tree(src: str, dst: str, uid: int, gid: int) -> None:
    """Copy what the host staged (its own files, never followed links) into the program's home."""
    for name in sorted(os.listdir(src)):
        source, target = os.path.join(src, name), os.path.join(dst, name)
        info = os.lstat(source)
        if stat.S_ISDIR(info.st_mode):
            os.mkdir(target, 0o755)
            _copy_tree(source, target, uid, gid)
        elif stat.S_ISREG(info.st_mode):
            with open(source, "rb") as reader, open(target, "xb") as writer:
                writer.write(reader.read())
        else:
            continue
        os.lchown(target, uid, gid)


def _apply(root: str, op: Spec) -> None:
    kind = op["op"]
    if kind == "bind":
        _bind(root, op)
    elif kind == "tmpfs":
        _tmpfs(root, op)
    elif kind == "dir":
        os.makedirs(root + op["dst"], mode=op.get("mode", 0o755), exist_ok=True)
    elif kind == "symlink":
        os.symlink(op["target"], root + op["dst"])
    elif kind == "file":
        with open(root + op["dst"], "w") as handle:
            handle.write(op["content"])
    elif kind == "copy":
        _copy_tree(op["src"], root + op["dst"], op["uid"], op["gid"])
    elif kind == "proc":
        os.makedirs(root + op["dst"], exist_ok=True)
        _mount("proc", root + op["dst"], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    else:
        raise SetupError(f"unknown mount operation {kind!r}")


def build_root(spec: Spec) -> None:
    """Mount a tmpfs root, fill it as the host planned, make it read-only and pivot into it."""
    root = spec["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing propagates back to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    for op in spec["mounts"]:
        try:
            _apply(root, op)
        except OSError as exc:
            raise SetupError(f"{op['op']} {op['dst']}: {exc}") from exc
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    _pivot_root(root)


# -- the program --------------------------------------------------------------------------------


def _set_rlimits(limits: dict[str, list[int]]) -> None:
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _drop_privileges(uid: int, gid: int, second: int | None = None) -> None:
    """No new privileges, an empty capability bounding set, then the unprivileged uid. `second`
    becomes the real uid and gid (the effective and saved ones are the program's, which exec
    keeps): a child of the program may take it (the harness's runner) and the program can drop
    it; nothing else can change ids (no capabilities)."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if os.geteuid() != 0:
        return
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    os.setgroups([])
    os.setresgid(gid if second is None else second, gid, gid)
    os.setresuid(uid if second is None else second, uid, uid)  # all non-zero: no capabilities


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_seccomp(hex_program: str | None) -> None:
    """Install the host-built filter (`seccomp.py`); no_new_privs is already set."""
    if not hex_program:
        return
    code = ctypes.create_string_buffer(bytes.fromhex(hex_program))
    fprog = _SockFprog(len(code.raw) // 8, ctypes.cast(code, ctypes.c_void_p))
    result = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0)
    _check(result, "seccomp")


def _join_cgroups(procs_fds: list[int]) -> None:
    for fd in procs_fds:
        os.write(fd, b"0")  # cgroup v1: 0 means the writing process
        os.close(fd)
    if procs_fds:
        _libc.unshare(CLONE_NEWCGROUP)  # best effort: hides the host's cgroup paths


def exec_program(spec: Spec, procs_fds: list[int]) -> None:
    """Become the program: never returns; a failure to exec exits 127 with a message."""
    try:
        _join_cgroups(procs_fds)
        _set_rlimits(spec["rlimits"])
        if spec.get("uid") is not None:
            _drop_privileges(spec["uid"], spec["gid"], spec.get("second_uid"))
        else:
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(spec["cwd"])
        for number in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; exec keeps that
            signal.signal(number, signal.SIG_DFL)
        _install_seccomp(spec.get("seccomp"))
        os.close(spec["status_fd"])
        for fd in spec["keep_fds"]:
            os.set_inheritable(fd, True)
        os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
    except (OSError, ValueError, SetupError) as exc:
        os.write(2, f"sandbox: cannot start {spec['argv'][0]!r}: {exc}\n".encode())
    os._exit(127)


# -- init and outer -----------------------------------------------------------------------------


def _report(spec: Spec, **fields: object) -> None:
    os.write(spec["status_fd"], json.dumps(fields).encode() + b"\n")


def _open_cgroups(spec: Spec) -> list[int]:
    return [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in spec["cgroup_procs"]]


def run_init(spec: Spec) -> None:
    """Pid 1 of the run: build the root, start the program, reap until it exits, report."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.set_inheritable(spec["status_fd"], False)
    procs_fds = _open_cgroups(spec)
    _libc.sethostname(b"sandbox", 7)
    build_root(spec)
    child = os.fork()
    if child == 0:
        exec_program(spec, procs_fds)
    for fd in procs_fds:
        os.close(fd)
    while True:
        pid, status, rusage = os.wait4(-1, 0)
        if pid == child:
            break
    # The program's own peak: the launcher's rusage would also hold the host's memory at the
    # fork (Linux keeps a process's peak across exec), here a small launcher's at most.
    peak = rusage.ru_maxrss * 1024
    if os.WIFSIGNALED(status):
        _report(spec, signal=os.WTERMSIG(status), peak_bytes=peak)
    else:
        _report(spec, exit_code=os.WEXITSTATUS(status), peak_bytes=peak)


def run_outer(spec: Spec) -> int:
    """Enter the new namespaces, start init and wait for it; the host kills this process group."""
    signal.alarm(max(1, int(spec["backstop_s"])))  # if the host is gone, SIGALRM ends the run
    flags = NAMESPACES & ~CLONE_NEWNET if spec.get("share_net") else NAMESPACES
    _check(_libc.unshare(flags), "unshare")
    child = os.fork()
    if child == 0:
        try:
            run_init(spec)
        except (OSError, SetupError) as exc:
            _report(spec, error=str(exc))
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    return 0 if status == 0 else 1


def main(argv: list[str]) -> int:
    with open(argv[1]) as handle:
        spec: Spec = json.load(handle)
    try:
        if spec["mode"] == "direct":
            exec_program(spec, _open_cgroups(spec))
        return run_outer(spec)
    except (OSError, SetupError) as exc:
        _report(spec, error=str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
