"""The client side: ask the user's daemon, start one in the background, stop it, wait for it.

Standard library only, so that `grader check` pays for none of the grader's machinery before it
knows whether the daemon answers. Whether a daemon runs is whether the lock is held
(grader/daemon/paths.py): a socket or pid file left by a daemon that died is stale, and removed
under the lock before a new one is started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from grader.daemon.paths import DaemonPaths, Lock, held, running
from grader.daemon.protocol import DaemonProblem, hello, peer_uid, receive, send

#: Seconds to connect and have the request read.
CONNECT_S = 2.0
#: Seconds a check may take in the daemon before the client gives up on it (and grades it
#: one-shot): above the longest time limit an item may set, plus a reference run.
REPLY_S = 1800.0
#: Seconds after a failed start during which a check starts no other daemon.
RETRY_AFTER_FAILURE_S = 300.0


class NotRunning(DaemonProblem):
    """Raised when no daemon answers at the socket (none runs, or it is still starting)."""


def ask(paths: DaemonPaths, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The daemon's reply to one request; `DaemonProblem` when there is none."""
    with connect(paths) as sock:
        try:
            send(sock, request)
        except OSError as exc:
            raise DaemonProblem(f"the request could not be sent ({exc.strerror or exc})") from exc
        sock.settimeout(timeout)
        return receive(sock)


def connect(paths: DaemonPaths) -> socket.socket:
    """A connection to the daemon, checked to be this user's (SO_PEERCRED)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_S)
    try:
        sock.connect(str(paths.socket))
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        raise NotRunning("no daemon is running") from exc
    except OSError as exc:
        sock.close()
        raise DaemonProblem(f"cannot connect to {paths.socket} ({exc.strerror or exc})") from exc
    try:
        theirs = peer_uid(sock)
    except OSError as exc:
        sock.close()
        raise DaemonProblem(f"cannot tell who serves {paths.socket} ({exc})") from exc
    if theirs != os.getuid():
        sock.close()
        raise DaemonProblem(f"{paths.socket} is served by another user's process")
    return sock


def status(paths: DaemonPaths) -> dict[str, Any]:
    """The running daemon's status; `NotRunning` when none answers."""
    reply = ask(paths, {"op": "status", "hello": hello()}, CONNECT_S)
    found = reply.get("status")
    if not isinstance(found, dict):
        raise DaemonProblem("the daemon's status is not an object")
    return found


def start(
    paths: DaemonPaths,
    bank: Path,
    backend: str | None,
    *,
    replacing: bool = False,
    after: int | None = None,
) -> bool:
    """Start a daemon in the background, unless one holds the lock (or, from a check, a start
    failed lately); True when one was started. `replacing`: the running daemon refused a check
    and is exiting, so the new one is started at once and waits for the lock itself. `after`:
    a pid the daemon lets finish before it warms up (the check that started it, so that the
    one-shot check does not share the CPUs with torch being imported)."""
    if replacing:
        spawn(paths, bank, backend, after, replacing=True)
        return True
    if after is not None and _failed_lately(paths):
        return False
    lock = Lock(paths.lock)
    try:
        if not lock.take():
            return False  # running, starting or stopping
        paths.socket.unlink(missing_ok=True)  # stale: the daemon that made them is gone
        paths.pid.unlink(missing_ok=True)
        spawn(paths, bank, backend, after)
    finally:
        lock.release()  # the new daemon takes it
    return True


def _failed_lately(paths: DaemonPaths) -> bool:
    try:
        return time.time() - paths.failed.stat().st_mtime < RETRY_AFTER_FAILURE_S
    except OSError:
        return False


def spawn(
    paths: DaemonPaths,
    bank: Path,
    backend: str | None,
    after: int | None,
    *,
    replacing: bool = False,
) -> None:
    """`python -m grader.daemon` detached: a new session, stdin /dev/null, stdout and stderr to
    the log, reparented to init (double fork), in this process's folder and environment."""
    argv = [sys.executable, "-m", "grader.daemon", "--bank", os.path.abspath(bank)]
    argv += ["--backend", backend] if backend else []
    argv += ["--after", str(after)] if after is not None else []
    argv += ["--replacing"] if replacing else []
    log = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child execs or exits
        try:
            os.setsid()
            if os.fork() == 0:
                os.dup2(null, 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.execv(sys.executable, argv)
        finally:
            os._exit(0)
    os.close(log)
    os.close(null)
    os.waitpid(child, 0)


def wait_serving(paths: DaemonPaths, timeout: float) -> dict[str, Any] | None:
    """The status once a daemon serves; None when none started or it does not in time."""
    deadline = time.monotonic() + timeout
    gone_since: float | None = None
    while True:
        with contextlib.suppress(DaemonProblem):
            return status(paths)
        if time.monotonic() >= deadline:
            return None
        if held(paths):
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since > 2.0:
            return None  # no daemon holds the lock: it exited (or never took it)
        time.sleep(0.1)


def stop(paths: DaemonPaths, timeout: float) -> int | None:
    """End the daemon (a `stop` request, else SIGTERM to a daemon still starting) and wait for
    it to let go of the lock; the pid it had, or None when none ran."""
    pid = paths.read_pid()
    try:
        pid = int(ask(paths, {"op": "stop", "hello": hello()}, CONNECT_S)["stopping"])
    except (DaemonProblem, KeyError, TypeError, ValueError):
        if not held(paths):
            return None
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while held(paths) or (pid is not None and running(pid)):
        if time.monotonic() > deadline:
            raise DaemonProblem(f"the daemon (pid {pid}) did not stop in {timeout:g} s")
        time.sleep(0.05)
    return pid
