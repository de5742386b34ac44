"""A warm docker container's processes, run INSIDE the container by docker-init (stdlib only).

A warm container serves one job at a time and many jobs in sequence (`warm.py` recycles it after
`GRADER_DOCKER_JOBS_PER_CONTAINER` jobs or on any anomaly). The host starts this file as

    python -I -c <this text> SUPERVISOR_SOURCE PROGRAM_SOURCE IMPORTS UID_BASE JOBS
        [IMPORTER_SOURCE PRELOADED_SOURCES_JSON]

as root holding only CAP_SETUID and CAP_SETGID (`spec.py`), and it splits into

    zygote   root, CAP_SETUID/SETGID only, non-dumpable; imports torch (and the preloaded
      |      modules, `sandbox.warm.preload`); forks each job's child ahead of its job; never
      |      reads a byte of any job (only file descriptors pass through it), so no child can
      |      find an earlier student's files or token in memory it inherited
      +- server   forked before the imports; takes uid 10001 (no capability left), non-dumpable;
      |           alone holds the attach stdin; per job reads `len(8 bytes) + tar` (the cold
      |           run's tar, see `spec.payload`), writes the token's markers on stdout
      +- sweeper  forked before the imports (so its forks are cheap), keeps the capabilities;
      |           after each job forks a helper that takes the job's uids, SIGKILLs everything
      |           they run until /proc shows none, removes what they own in the workdir, /tmp and
      |           /dev/shm and their System V IPC objects, and checks that all are empty
      +- job      job k (forked after job k-1 was swept): waits for its descriptors, reads its
                  payload from a pipe, takes (real 2k+1, effective 2k) above UID_BASE, uids no
                  other job of this container ever had; makes the workdir (`spec.JOB_WORKDIR`)
                  afresh, writes the files, runs the program (`warm_program`)

Why the attach socket (the cold run's `Exchange`) and not file descriptors over a bind-mounted
Unix socket: it needs no host path in the container, the program's stdout and stderr are the
container's own streams (read with caps by the host, no copy in here), and a job's cost in here
is a fork made ahead of it and a small process's fork after it; the socket's round trip through
the engine is a few milliseconds.
The channel and the stdin are unlinked files on the server's private tmpfs (O_TMPFILE), passed as
descriptors: the program sees `SANDBOX_CHANNEL=fd:3`. The server writes the result after the
sweeper's verdict (`clean`), the OOM kills and the anonymous memory the container holds, then an
`end` marker on stderr (the engine copies the two streams apart: the host reads both up to their
markers). A dirty sweep, an OOM kill or memory above the threshold makes the host recycle the
container; so does a zygote or server that ends (the container ends with it).
"""

from __future__ import annotations

import base64
import ctypes
import gc
import importlib
import io
import json
import os
import resource
import signal
import socket
import struct
import sys
import tarfile
import time
import types
from typing import IO, Any, NoReturn

_SERVER_UID = 10001
_CHANNEL_DIR = "/run/grader"
_SWEPT = ("/tmp", "/dev/shm", "/home/sandbox")
_JOB_WORKDIR = "/home/sandbox/job"
_CHANNEL_FD = 3
_KILL_WAIT_S = 2.0
_LENGTH = struct.Struct(">Q")
_IPC = {"shm": "shmctl", "sem": "semctl", "msg": "msgctl"}
_IPC_RMID = 0
_MEMORY_STATS = (
    ("/sys/fs/cgroup/memory.stat", ("anon", "shmem")),
    ("/sys/fs/cgroup/memory/memory.stat", ("rss", "shmem")),
)

sup: Any = None  # the supervisor's helpers (marker, take_uids, ...), loaded from its source
runner: Any = None  # warm_program, loaded from its source
preloader: Any = None  # sandbox.warm.importer, loaded from its source when given one
#: The modules imported before any job (`sandbox.warm.preload`), and the folder they seem from.
PRELOADED: list[str] = []
_PRELOAD_DIR = "/opt/grader/preload"


def load(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)  # noqa: S102
    return module


# --- the server ----------------------------------------------------------------------------


def read_exact(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    return data if len(data) == size else b""


def read_job(source: IO[bytes]) -> tuple[dict[str, Any], bytes, dict[str, bytes]] | None:
    """The next job's meta, stdin and files; None when the host closed our stdin."""
    head = read_exact(source, _LENGTH.size)
    if not head:
        return None
    data = read_exact(source, _LENGTH.unpack(head)[0])
    meta: dict[str, Any] = {}
    stdin, files = b"", {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as bundle:
        for member in bundle:
            handle = bundle.extractfile(member) if member.isfile() else None
            if handle is None:
                raise ValueError(f"unexpected tar member {member.name!r}")
            body = handle.read()
            if member.name == "meta.json":
                meta = json.loads(body)
            elif member.name == "stdin":
                stdin = body
            elif member.name.startswith("files/"):
                files[member.name[len("files/") :]] = body
    return meta, stdin, files


def scratch(data: bytes) -> int:
    """An unlinked file on the server's 0700 tmpfs holding `data`, open read-write at 0."""
    fd = os.open(_CHANNEL_DIR, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def anon_bytes() -> int | None:
    """Anonymous and tmpfs memory the container holds (page cache is not counted: reclaimable),
    from its memory cgroup (v2, else v1); None when unreadable (the host then recycles)."""
    for path, keys in _MEMORY_STATS:
        try:
            with open(path) as stat:
                pairs = [line.split() for line in stat]
        except OSError:
            continue
        return sum(int(value) for key, value in pairs if key in keys)
    return None


def serve_job(
    link: socket.socket, meta: dict[str, Any], stdin: bytes, files: dict[str, bytes]
) -> None:
    """One job: hand the child its descriptors and payload, then write its result."""
    out = sys.stdout.buffer
    token = meta["token"]
    oom_before = sup.oom_kills()
    stdin_fd, channel_fd = scratch(stdin), scratch(b"")
    payload_r, payload_w = os.pipe()
    job = {key: meta[key] for key in ("program", "env", "rlimits")}
    job["preloaded"] = meta.get("preloaded") is True
    job["files"] = {name: base64.b64encode(body).decode() for name, body in files.items()}
    out.write(sup.marker(token, "started"))
    out.flush()
    socket.send_fds(link, [b"job"], [payload_r, stdin_fd, channel_fd])
    for fd in (payload_r, stdin_fd):
        os.close(fd)
    try:
        with os.fdopen(payload_w, "wb") as payload:
            payload.write(json.dumps(job).encode())
    except BrokenPipeError:
        pass  # the child died before reading it: its status says so
    said = link.recv(65536)
    if not said:
        os._exit(1)  # the zygote is gone: the container ends, the host sees no result
    status = json.loads(said)
    channel = os.pread(channel_fd, int(meta["channel_bytes"]) + 1, 0)
    os.close(channel_fd)
    header = {
        **status,
        "oom_kills": sup.oom_kills() - oom_before,
        "memory_bytes": anon_bytes(),
        "channel_len": len(channel),
    }
    out.write(sup.marker(token, "result") + json.dumps(header).encode() + b"\n" + channel)
    out.flush()
    sys.stderr.buffer.write(sup.marker(token, "end"))
    sys.stderr.flush()


def server(link: socket.socket) -> NoReturn:
    """Take uid 10001 (no capability left), then serve jobs until stdin ends."""
    sup.take_uids(_SERVER_UID, _SERVER_UID)
    sup._dumpable(0)
    while (job := read_job(sys.stdin.buffer)) is not None:
        serve_job(link, *job)
    os._exit(0)


# --- the job child -------------------------------------------------------------------------


def job_child(fds: list[int], uid: int, second: int) -> NoReturn:
    """Become job `uid`'s program; exit 1 (with the reason on stderr) if its setup fails."""
    try:
        payload_fd, stdin_fd, channel_fd = fds
        sup._child_setup()  # own session, first in line for the OOM killer
        with os.fdopen(payload_fd, "rb") as payload:
            job = json.loads(payload.read())
        os.dup2(stdin_fd, 0)
        os.dup2(channel_fd, _CHANNEL_FD)
        os.set_inheritable(_CHANNEL_FD, True)
        os.closerange(_CHANNEL_FD + 1, 1 << 16)  # the zygote's link to the server among them
        sup.take_uids(uid, second)  # (real second, effective uid): no capability after
        sup._dumpable(1)  # nothing secret here; the program's /proc entries stay its own
        os.mkdir(_JOB_WORKDIR, 0o700)  # fails if anything of an earlier job were left
        os.chmod(_JOB_WORKDIR, 0o1777)  # sticky and open to the runner's uid, as a cold run's
        for name, body in job["files"].items():
            sup._write(_JOB_WORKDIR, name, base64.b64decode(body))
        for name, value in job["rlimits"].items():
            limit = getattr(resource, f"RLIMIT_{name.upper()}")
            resource.setrlimit(limit, (int(value[0]), int(value[1])))
        os.chdir(_JOB_WORKDIR)
    except BaseException:  # noqa: BLE001 - a failure of this setup: say it, exit 1
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    if not job["preloaded"] and PRELOADED:  # other files, or none: it must not see ours
        preloader.forget(PRELOADED)
    runner.run(job["program"], job["env"], _JOB_WORKDIR)
    os._exit(1)  # `run` never returns


# --- the sweeper ---------------------------------------------------------------------------


def holders(uids: set[int]) -> list[int]:
    """Live (not zombie) processes, but this one, with any of `uids` as a uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except (OSError, ValueError):
            continue
        ids = {int(x) for x in fields.get("Uid", "").split()}
        if ids & uids and fields.get("State", "Z").split()[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def kill_all(uids: set[int]) -> bool:
    """SIGKILL everything the job's uids run until none is left; False if some survive."""
    deadline = time.monotonic() + _KILL_WAIT_S
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not holders(uids):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)


def remove_tree(path: str) -> None:
    """Remove `path` as far as this euid may (making its own folders searchable first)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                os.chmod(path, 0o700)
            except OSError:
                pass
            for name in os.listdir(path):
                remove_tree(os.path.join(path, name))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def remove_ipc() -> None:
    """Remove the System V IPC objects this euid owns (the IPC namespace outlives a job)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for kind, call in _IPC.items():
        for ident in ipc_ids(kind):
            if kind == "sem":
                libc.semctl(ident, 0, _IPC_RMID)
            else:
                getattr(libc, call)(ident, _IPC_RMID, None)


def ipc_ids(kind: str) -> list[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            return [int(line.split()[1]) for line in list(table)[1:] if line.strip()]
    except (OSError, ValueError, IndexError):
        return []


def scrub(uid: int, second: int) -> bool:
    """Remove the job's files and IPC objects as each of its uids in turn; True when the swept
    folders and the IPC tables are empty."""
    for _ in range(3):
        for euid in (second, uid):
            os.seteuid(euid)
            for folder in _SWEPT:
                for name in os.listdir(folder):
                    remove_tree(os.path.join(folder, name))
            remove_ipc()
        if not any(os.listdir(f) for f in _SWEPT) and not any(map(ipc_ids, _IPC)):
            return True
    return False


def sweep(uid: int, second: int) -> bool:
    """In a child under the job's uids: kill, remove, verify. True when the container is clean."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sup.take_uids(uid, second)
            code = 0 if kill_all({uid, second}) and scrub(uid, second) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def sweeper(link: socket.socket) -> NoReturn:
    """The sweeper process: small (forked before the imports, so each sweep's fork is cheap);
    sweeps the uid pairs the zygote names, answers 1 (clean) or 0."""
    sup._dumpable(0)
    while said := link.recv(64):
        uid, second = json.loads(said)
        link.send(b"1" if sweep(uid, second) else b"0")
    os._exit(0)


# --- the zygote ----------------------------------------------------------------------------


def job_status(status: int, rusage: Any) -> dict[str, Any]:
    signalled = os.WIFSIGNALED(status)
    return {
        "exit_code": None if signalled else os.WEXITSTATUS(status),
        "signal": os.WTERMSIG(status) if signalled else None,
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "peak_memory_bytes": rusage.ru_maxrss * 1024,
    }


def prefork(index: int, base: int, closing: list[socket.socket]) -> tuple[int, socket.socket]:
    """Job `index`'s child, forked ahead of its job (off the job's path): it waits on a socket
    of its own for the job's descriptors, which the zygote forwards, then becomes the job."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        for link in [ours, *closing]:
            link.close()
        message, fds, _, _ = socket.recv_fds(theirs, 16, 8)
        if not message or len(fds) != 3:
            os._exit(0)  # the container is closing
        theirs.close()
        job_child(fds, base + 2 * index, base + 2 * index + 1)
    theirs.close()
    return pid, ours


def zygote(server: socket.socket, sweeper: socket.socket, base: int, jobs: int) -> None:
    """Fork each job's child with fresh uids, hand it its job, wait, sweep, report."""
    links = [server, sweeper]
    child, child_link = prefork(0, base, links)
    for index in range(jobs):
        message, fds, _, _ = socket.recv_fds(server, 16, 8)
        if not message or len(fds) != 3:
            return  # the server ended (or the host sent more jobs than this container takes)
        socket.send_fds(child_link, [b"job"], fds)
        for fd in fds:
            os.close(fd)
        child_link.close()
        _, status, rusage = os.wait4(child, 0)
        report = job_status(status, rusage)
        sweeper.send(json.dumps([base + 2 * index, base + 2 * index + 1]).encode())
        report["clean"] = sweeper.recv(1) == b"1"
        server.send(json.dumps(report).encode())
        if not report["clean"]:
            server.recv(16)  # the host recycles the container: wait for the end of its jobs
            return
        if index + 1 < jobs:
            child, child_link = prefork(index + 1, base, links)


def preload(args: list[str]) -> None:
    """With `[IMPORTER_SOURCE, SOURCES_JSON]`, import those modules (`PRELOADED` says which)."""
    global preloader
    if len(args) != 2:
        return
    preloader = load("warm_importer", args[0])
    sources = {name: text.encode() for name, text in json.loads(args[1]).items()}
    PRELOADED.extend(preloader.import_sources(sources, _PRELOAD_DIR))


def fork_with(target: Any) -> socket.socket:
    """A process running `target(link)`; our end of its link."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if os.fork() == 0:
        ours.close()
        target(theirs)
    theirs.close()
    return ours


def main(argv: list[str]) -> int:
    global sup, runner
    sup = load("supervisor", argv[1])
    runner = load("warm_program", argv[2])
    # The engine gives a tmpfs the image folder's mode (root's 0755): open it as /tmp is, so
    # each job can make its workdir there under its own uid (we own it: no capability needed).
    os.chmod(os.path.dirname(_JOB_WORKDIR), 0o1777)
    to_server = fork_with(server)

    def sweeper_alone(link: socket.socket) -> None:
        to_server.close()
        sweeper(link)

    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the attach stdin (the host's jobs) is the server's alone
    os.close(null)
    to_sweeper = fork_with(sweeper_alone)
    sup._dumpable(0)
    for name in filter(None, argv[3].split(",")):
        importlib.import_module(name)
    preload(argv[6:8])
    for folder in _SWEPT:  # what the imports left (torch makes a folder in /tmp): ours
        for name in os.listdir(folder):
            remove_tree(os.path.join(folder, name))
    gc.collect()
    gc.freeze()  # the warm modules' objects stay out of every child's collections
    runner.huge_pages()  # cheaper forks for every job (see there)
    sys.stdout.buffer.write(sup.READY_PRELOADED if PRELOADED else sup.READY)
    sys.stdout.flush()
    zygote(to_server, to_sweeper, int(argv[4]), int(argv[5]))
    os._exit(0)  # the interpreter's teardown of torch takes a second and serves nothing


if __name__ == "__main__":
    sys.exit(main(sys.argv))
