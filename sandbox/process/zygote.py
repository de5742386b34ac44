"""The warm process sandbox's zygote: runs INSIDE the jail, as root, with torch already imported.

The host starts it through the launcher (same namespaces, same read-only minimal root as a cold
run, runtime at /opt/runtime, no network) as `python -I -c BOOT CONTROL_FD IMPORTS`, where BOOT
puts /opt/grader (this file, the launcher and `warm_program`, bound read-only) on the path.
It imports the warm modules once (torch and torchvision: importing torch does not initialise
CUDA; nothing here may call into torch.cuda, since a fork after CUDA initialisation breaks the
child), freezes the garbage collector's view of them (so children do not copy every page), says
`ready` on the control socket, then loops:

    pre-fork one child, which waits on a private socket for its job
    pass it the next job's cgroup.procs files (`prep`), which it joins at once
    pass it the job (`job`): file descriptors only, never a student's bytes, so a later child
        cannot find an earlier student's submission in memory it inherited
    wait for the child, report its exit status on the job's status pipe

The child serves exactly one job: it reads the job (argv, env, files, limits) from the payload
pipe, enters new mount, ipc, net and uts namespaces, mounts a fresh tmpfs home, /tmp and /dev/shm,
writes the files, joins the job's cgroups, sets rlimits, drops to the job's own uid with
no_new_privs and the seccomp filter, and runs the program in this warm interpreter
(`warm_program`). It says its exit status on the job's `ended` pipe once its output is complete
(so the host need not wait for this address space's teardown), then exits; the host kills
whatever it left through the job's cgroups.
Standard library only, besides the modules it was told to import.
"""

from __future__ import annotations

import base64
import fcntl
import gc
import importlib
import json
import os
import signal
import socket
import sys
from typing import Any

import process_launcher as launcher  # type: ignore[import-not-found,unused-ignore]
import warm_importer  # type: ignore[import-not-found,unused-ignore]
import warm_program  # type: ignore[import-not-found,unused-ignore]

CLONE_JOB = launcher.CLONE_NEWNS | launcher.CLONE_NEWIPC | launcher.CLONE_NEWNET
CLONE_JOB |= launcher.CLONE_NEWUTS
#: Where the zygote's own code is mounted; each job unmounts it from its view.
CODE_DIR = "/opt/grader"
#: A root-only scratch mount for the job's /etc/passwd and /etc/group (unmounted before the run).
SCRATCH = "/run/grader"
#: The fixed descriptor the program's channel gets (`SANDBOX_CHANNEL=fd:3`).
CHANNEL_FD = 3
#: Order of the descriptors the host sends with a job.
FDS = ("status", "payload", "stdin", "stdout", "stderr", "channel", "ended")
#: The host's copy of the modules every job may find imported (`sandbox.warm.preload`).
PRELOAD_DIR = f"{CODE_DIR}/preload"
#: Their module names, once imported.
PRELOADED: list[str] = []

#: A job is the host's `sandbox.process.spec.WarmJobSpec`, read back from JSON as a plain dict
#: (this file runs in the jail on the standard library alone).
Job = dict[str, Any]


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def mount_job(job: Job) -> None:
    """The job's own view: fresh writable mounts over the zygote's, and no zygote code."""
    launcher._mount(None, "/", None, launcher.MS_REC | launcher.MS_PRIVATE, None)
    for op in job["mounts"]:
        launcher._tmpfs("", op)
    launcher._mount("tmpfs", SCRATCH, "tmpfs", launcher.MS_NOSUID | launcher.MS_NODEV, "size=64k")
    for name in ("passwd", "group"):
        with open(f"{SCRATCH}/{name}", "w") as handle:
            handle.write(job["etc"][name])
        launcher._mount(f"{SCRATCH}/{name}", f"/etc/{name}", None, launcher.MS_BIND, None)
    code = [os.path.join(CODE_DIR, name) for name in os.listdir(CODE_DIR)]
    for path in [SCRATCH, *code]:
        launcher._check(launcher._libc.umount2(path.encode(), launcher.MNT_DETACH), "umount")
    launcher._libc.sethostname(b"sandbox", 7)


def write_files(home: str, files: dict[str, str], uid: int) -> None:
    """The submission and its plan, written fresh (O_EXCL, no links followed) and chowned."""
    for name, encoded in files.items():
        parts = name.split("/")
        folder = home
        for part in parts[:-1]:
            folder = os.path.join(folder, part)
            if not os.path.isdir(folder):
                os.mkdir(folder, 0o755)
                os.chown(folder, uid, uid)
        path = os.path.join(folder, parts[-1])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64decode(encoded))
        os.chown(path, uid, uid)


def place(fds: dict[str, int]) -> None:
    """stdin, stdout, stderr and the channel onto 0, 1, 2 and 3, whatever numbers they came in."""
    targets = {"stdin": 0, "stdout": 1, "stderr": 2, "channel": CHANNEL_FD}
    for name, target in targets.items():
        os.dup2(fds[name], target)  # dup2 leaves the target inheritable, as a pipe should be
        os.close(fds[name])


def become_program(job: Job, fds: dict[str, int]) -> None:
    """Stdio and channel in place, limits set, privileges dropped, the seccomp filter on."""
    place(fds)
    launcher._set_rlimits(job["rlimits"])
    launcher._drop_privileges(job["uid"], job["uid"], job.get("second_uid"))
    os.chdir(job["cwd"])
    launcher._install_seccomp(job.get("seccomp"))


def receive(link: socket.socket) -> list[int]:
    """The next message's descriptors, moved clear of 0 to 3; exit when the zygote is gone."""
    message, received, _, _ = socket.recv_fds(link, 16, 64)
    if not message:
        os._exit(0)  # the zygote is shutting down
    lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16) for fd in received]
    for fd in received:
        os.close(fd)
    return lifted


def serve(link: socket.socket) -> None:
    """The pre-forked child: join the next job's cgroups as soon as the host made them (off the
    job's critical path: a cgroup move waits for an RCU grace period), then wait for the job,
    set it up and run it; never returns."""
    launcher._join_cgroups(receive(link))  # from here on the host can kill this job
    fds = dict(zip(FDS, receive(link), strict=True))
    link.close()
    try:
        job = json.loads(read_all(fds["payload"]))
        launcher._check(launcher._libc.unshare(CLONE_JOB), "unshare")
        mount_job(job)
        write_files(job["cwd"], job["files"], job["uid"])
        become_program(job, fds)
    except (OSError, ValueError, KeyError, launcher.SetupError) as exc:
        os.write(fds["status"], json.dumps({"error": f"warm setup: {exc}"}).encode() + b"\n")
        os._exit(1)
    os.close(fds["status"])
    if not job["preloaded"]:  # this job carries other files, or none: it must not see ours
        warm_importer.forget(PRELOADED)
    warm_program.run(job["program"], job["env"], job["cwd"], ended_fd=fds["ended"])


def prefork(control: socket.socket) -> tuple[int, socket.socket]:
    """A child waiting for the next job on a socket of its own."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        control.close()
        ours.close()
        try:
            serve(theirs)
        except BaseException:  # noqa: BLE001 - a bug here: say it in the zygote's log
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(1)
    theirs.close()
    return pid, ours


def report(status_fd: int, wait_status: int, rusage: Any) -> None:
    fields: dict[str, Any] = {
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "peak_bytes": rusage.ru_maxrss * 1024,
    }
    if os.WIFSIGNALED(wait_status):
        fields["signal"] = os.WTERMSIG(wait_status)
    else:
        fields["exit_code"] = os.WEXITSTATUS(wait_status)
    try:
        os.write(status_fd, json.dumps(fields).encode() + b"\n")
    except OSError:
        pass  # the host stopped listening (it killed the run); nothing to tell
    os.close(status_fd)


def forward(control: socket.socket, link: socket.socket) -> list[int] | None:
    """Pass one message's descriptors from the host to the waiting child; None at the end."""
    message, fds, _, _ = socket.recv_fds(control, 16, 64)
    if not message:
        return None
    socket.send_fds(link, [message], fds)
    return fds


def loop(control: socket.socket) -> None:
    """prep (the next job's cgroups), then job (its pipes): forward both, wait, report."""
    while True:
        child, link = prefork(control)
        fds = forward(control, link)
        for fd in fds or []:
            os.close(fd)
        fds = forward(control, link) if fds is not None else None
        link.close()
        if fds is None:  # the host closed the pool: end the waiting child, then ourselves
            os.waitpid(child, 0)
            return
        status_fd = fds[0]
        for fd in fds[1:]:
            os.close(fd)
        _, wait_status, rusage = os.wait4(child, 0)
        report(status_fd, wait_status, rusage)


def preload() -> str:
    """Import the preload folder's modules; the digest of their sources, "" when there are none
    or one fails to import (jobs then carry their own, as without a preload)."""
    if not os.path.isdir(PRELOAD_DIR):
        return ""
    sources = {}
    for name in sorted(os.listdir(PRELOAD_DIR)):
        if name.endswith(".py"):
            with open(os.path.join(PRELOAD_DIR, name), "rb") as handle:
                sources[name] = handle.read()
    PRELOADED.extend(warm_importer.import_sources(sources, PRELOAD_DIR))
    return str(warm_importer.digest_of(sources)) if PRELOADED else ""


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[1]))
    for name in filter(None, argv[2].split(",")):
        importlib.import_module(name)
    digest = preload()
    gc.collect()
    gc.freeze()  # the warm modules' objects stay out of every child's collections
    warm_program.huge_pages()  # cheaper forks for every job (see there)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    control.send(b"ready " + digest.encode())
    loop(control)
    return 0
