"""The docker sandbox's supervisor, run INSIDE the container by docker-init.

The host starts it as `python -I -c <this file's text> UID SECOND_UID` as root holding only
CAP_SETUID and CAP_SETGID. Its first act takes effective uid UID and real uid SECOND_UID (which
clears every capability); the program it starts inherits both, so the harness's observer can fork
its runner under SECOND_UID and drop it (see `grader/probe/harness/observer.py`). Once the
program is started (or, warm, its child forked) the supervisor drops SECOND_UID too: the runner
can signal neither it nor the observer. The host then writes one tar to its stdin:
`meta.json` (argv, the run's token, the channel path and cap), `stdin` (the program's stdin) and
`files/<name>` (the submission and the plan). It then

1. makes itself non-dumpable, so the program (same uid) cannot read its memory or open its fds;
2. writes the files into the tmpfs workdir and the stdin to a file on the private tmpfs;
3. writes the "started" marker on stdout, then runs the program with stdout and stderr inherited
   (they are the container's own streams, which the host reads with caps);
4. when the program ends, kills everything else it can (orphans, daemonised children), waits
   until they are gone, and writes the "result" marker on stdout: a JSON header (exit status,
   CPU time, peak RSS, OOM kills) followed by the channel file's bytes (at most cap + 1).

Why not `put_archive` / `get_archive`: the workdir, /tmp and the channel live on tmpfs mounts,
which Docker's archive API cannot reach (before start and after exit they do not exist; while
running, the daemon sees the rootfs under them, which is read-only). The markers carry a random
token that only the host and this process know, so the program cannot forge a result by printing.
A warm container runs `zygote.py` instead, which loads this file's helpers (`marker`,
`take_uids`, `oom_kills`, ...) from its source and serves many jobs, one at a time.
Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import tarfile
import time
from typing import IO, Any

PR_SET_DUMPABLE = 4
_ORPHAN_WAIT_S = 2.0
#: What a warm container's zygote writes on stdout once it waits for jobs (no student code has
#: run in the container yet, so this needs no secret).
READY = b"\0grader:warm:ready\0"
#: The same, when it also imported the preloaded modules it was given (`sandbox.warm.preload`).
READY_PRELOADED = b"\0grader:warm:ready:preloaded\0"


def marker(token: str, what: str) -> bytes:
    """The framing the host looks for on stdout; `token` is secret to the host and to us."""
    return f"\0grader:{token}:{what}\0".encode()


def unpack(source: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    """Read the host's tar: write `files/` into the workdir; return the meta and the stdin."""
    meta: dict[str, Any] = {}
    stdin = b""
    with tarfile.open(fileobj=source, mode="r|") as bundle:
        for member in bundle:
            data = _read(bundle, member)
            if member.name == "meta.json":
                meta = json.loads(data)
                _own_dirs(meta)
            elif member.name == "stdin":
                stdin = data
            elif member.name.startswith("files/"):
                _write(meta["workdir"], member.name[len("files/") :], data)
    return meta, stdin


def _own_dirs(meta: dict[str, Any]) -> None:
    """The engine gives a tmpfs the image folder's mode: set ours. The workdir is sticky and
    open to the runner's uid (like /tmp); the channel's folder is the supervisor's alone."""
    os.chmod(meta["workdir"], 0o1777)
    os.chmod(os.path.dirname(meta["channel"]), 0o700)


def _read(bundle: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    if not member.isfile():
        raise ValueError(f"unexpected tar member {member.name!r}")
    handle = bundle.extractfile(member)
    return handle.read() if handle else b""


def _write(workdir: str, name: str, data: bytes) -> None:
    """Create one file (never through a link: the tmpfs is fresh, but be strict anyway)."""
    parts = name.split("/")
    if not name or name.startswith("/") or ".." in parts:
        raise ValueError(f"bad file name {name!r}")
    path = os.path.join(workdir, *parts)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def start(meta: dict[str, Any], stdin: bytes) -> subprocess.Popen[bytes] | None:
    """Start the program; None (and a message on stderr) when it cannot be executed."""
    stdin_path = os.path.join(os.path.dirname(meta["channel"]), "stdin")
    with open(stdin_path, "wb") as out:
        out.write(stdin)
    try:
        with open(stdin_path, "rb") as source:
            return subprocess.Popen(
                meta["argv"], stdin=source, cwd=meta["workdir"], preexec_fn=_child_setup
            )
    except OSError as exc:
        sys.stderr.write(f"sandbox: cannot execute {meta['argv'][0]!r}: {exc.strerror}\n")
        return None
    finally:
        os.unlink(stdin_path)


def _child_setup() -> None:
    """In the child before exec: its own session, and first in line for the OOM killer."""
    os.setsid()
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    except OSError:
        pass


def take_uids(uid: int, second: int) -> None:
    """Effective uid `uid`, real uid `second` (a child may take it); no capabilities after."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(second, uid, uid)
        os.setresuid(second, uid, uid)


def drop_second() -> None:
    uid, gid = os.geteuid(), os.getegid()
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def kill_others() -> None:
    """SIGKILL every process this uid may signal but ourselves and init; wait until none is left
    (the runner's, under the second uid, cannot reach the channel and go with the container)."""
    deadline = time.monotonic() + _ORPHAN_WAIT_S
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return  # nothing else to signal
        if not _others():
            return
        time.sleep(0.01)


def _others() -> bool:
    """Whether a live (not zombie) process other than init and us remains."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                state = stat_file.read().rsplit(")", 1)[1].split()[0]
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue  # not ours to signal
        except OSError:
            continue
        if state not in ("Z", "X"):
            return True
    return False


def read_channel(path: str, cap: int) -> bytes:
    """The channel file's first cap + 1 bytes; nothing when it is missing or not a plain file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            return b""
        return source.read(cap + 1)


def oom_kills() -> int:
    """OOM kills in this container's memory cgroup (v1 or v2); 0 when it cannot be read."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as counters:
                for line in counters:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


def report(meta: dict[str, Any], returncode: int | None) -> bytes:
    """The result marker, a JSON header line, then the channel bytes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    channel = read_channel(meta["channel"], int(meta["channel_bytes"]))
    header = {
        "exit_code": returncode if returncode is not None and returncode >= 0 else None,
        "signal": -returncode if returncode is not None and returncode < 0 else None,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_memory_bytes": usage.ru_maxrss * 1024,
        "oom_kills": oom_kills(),
        "channel_len": len(channel),
    }
    head = json.dumps(header).encode() + b"\n"
    return marker(meta["token"], "result") + head + channel


def _dumpable(flag: int) -> None:
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, flag, 0, 0, 0)


def main() -> int:
    take_uids(int(sys.argv[1]), int(sys.argv[2]))
    _dumpable(0)
    meta, stdin = unpack(sys.stdin.buffer)
    out = sys.stdout.buffer
    out.write(marker(meta["token"], "started"))
    out.flush()
    child = start(meta, stdin)
    drop_second()
    returncode = 127 if child is None else child.wait()
    kill_others()
    out.write(report(meta, returncode))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
