"""The daemon process (`python -m grader.daemon --bank DIR [--backend B]`), as the client starts it.

It takes the lock (only one daemon per user), writes its pid, opens the sandbox and loads the
bank (`WarmGrader`), waits for the warm pool to fill, and only then binds the socket, so a
check the socket answers is a warm one. Each connection gets a thread; checks are graded one at
a time, and one whose client hung up while it waited is dropped.

A connection from another uid (SO_PEERCRED) is closed unanswered. It exits, removing its socket
and pid file, on `stop`, SIGTERM or SIGINT; after `GRADER_DAEMON_IDLE_S` seconds without a
check; when its socket file is removed or replaced; and after refusing a check made by other
code or under other settings (the client then starts one of its own kind). A start that fails
leaves its reason in `start-failed`, which keeps clients from starting another for a while.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.daemon.paths import DaemonPaths, Lock, running
from grader.daemon.protocol import DaemonProblem, config, hello, peer_uid, receive, send
from grader.daemon.settings import idle_seconds

if TYPE_CHECKING:
    from grader.daemon.warm import WarmGrader

log = logging.getLogger("grader.daemon")
#: Seconds a daemon started to replace another waits for it to let go of the lock (it is closing
#: its pool); any other start finding the lock held exits at once.
LOCK_WAIT_S = 30.0
#: Seconds it waits for its warm pool to fill before it serves anyway.
WARM_WAIT_S = 120.0
#: Seconds a daemon started by a check waits at most for that check to end.
AFTER_WAIT_S = 600.0
#: The log's size past which a starting daemon empties it.
LOG_MAX = 1024 * 1024


class Daemon:
    """Serves one socket until told to stop, idle, or its socket is taken away."""

    def __init__(
        self,
        paths: DaemonPaths,
        made_for: dict[str, Any],
        warm: WarmGrader,
        stop: threading.Event,
    ) -> None:
        self.paths, self.made_for, self.warm, self.stop = paths, made_for, warm, stop
        self.idle_s = idle_seconds()
        self.started = time.time()
        self.requests = 0
        self._busy = 0
        self._last = time.monotonic()
        self._count = threading.Lock()
        self._inode: tuple[int, int] | None = None

    def serve(self) -> None:
        listener = bind(self.paths)
        info = self.paths.socket.stat()
        self._inode = (info.st_dev, info.st_ino)
        self._last = time.monotonic()  # idle from now: the warm-up was not idleness
        log.info("serving on %s (pid %d)", self.paths.socket, os.getpid())
        try:
            while not self.stop.is_set() and self._wanted():
                with contextlib.suppress(TimeoutError):
                    connection, _ = listener.accept()
                    thread = threading.Thread(target=self._handle, args=(connection,), daemon=True)
                    thread.start()
        finally:
            listener.close()
            if self._owns_socket():
                self.paths.socket.unlink(missing_ok=True)

    def _wanted(self) -> bool:
        """False once idle too long or once the socket file is no longer this daemon's."""
        with self._count:
            idle = not self._busy and time.monotonic() - self._last > self.idle_s
        if idle:
            log.info("idle for %g s: exiting", self.idle_s)
            return False
        if not self._owns_socket():
            log.info("the socket file was removed or replaced: exiting")
            return False
        return True

    def _owns_socket(self) -> bool:
        try:
            info = self.paths.socket.stat()
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._inode

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10.0)  # for the request: a client sends it at once
            try:
                if peer_uid(connection) != os.getuid():
                    log.warning("refused a connection from uid %d", peer_uid(connection))
                    return
                reply = self._answer(receive(connection), lambda: _connected(connection))
                if reply is not None:
                    send(connection, reply)
            except (DaemonProblem, OSError) as exc:
                log.info("a connection ended early: %s", exc)

    def _answer(self, request: dict[str, Any], wanted: Callable[[], bool]) -> dict[str, Any] | None:
        op = request.get("op")
        if op == "status":
            return {"status": self.status()}
        if op == "stop":
            self.stop.set()
            return {"stopping": os.getpid()}
        if op != "check":
            return {"fallback": f"unknown request {op!r}"}
        refused = self._refusal(request)
        if refused is not None:
            log.info("refused a check (%s): exiting for a new daemon", refused)
            self.stop.set()
            return {"refused": refused}
        return self._check(request, wanted)

    def _refusal(self, request: dict[str, Any]) -> str | None:
        if request.get("hello") != hello():
            return "the daemon runs other grader code"
        if request.get("config") != self.made_for:
            return "the daemon was started under other settings"
        return None

    def _check(self, request: dict[str, Any], wanted: Callable[[], bool]) -> dict[str, Any] | None:
        with self._count:
            self._busy += 1
        began = time.monotonic()
        try:
            reply: dict[str, Any] | None = self.warm.check(request, wanted)
        except Exception as exc:  # noqa: BLE001 - any failure here sends the check one-shot
            log.exception("a check failed in the daemon")
            reply = {"fallback": f"the daemon failed ({type(exc).__name__}: {exc})"}
        what = "dropped (its client hung up)" if reply is None else next(iter(reply))
        log.info("check %s: %s in %.3f s", request.get("item"), what, time.monotonic() - began)
        with self._count:
            self._busy -= 1
            self._last = time.monotonic()
            if reply is not None and ("report" in reply or "error" in reply):
                self.requests += 1
        return reply

    def status(self) -> dict[str, Any]:
        with self._count:
            requests = self.requests
        return {
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started, 1),
            "requests": requests,
            "idle_s": self.idle_s,
            "version": hello()["version"],
        } | self.warm.status()


def _connected(connection: socket.socket) -> bool:
    """Whether the client still waits: a hung-up client's socket reads as end of file."""
    ready, _, _ = select.select([connection], [], [], 0)
    if not ready:
        return True
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def bind(paths: DaemonPaths) -> socket.socket:
    """A listening socket at `paths.socket`, 0600, put in place whole (a stale file replaced)."""
    temporary = paths.binding
    temporary.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(temporary))
    os.chmod(temporary, 0o600)
    listener.listen(16)
    os.replace(temporary, paths.socket)
    listener.settimeout(0.5)  # the loop looks at the stop flag, idleness and the file this often
    return listener


def wait_warm(sandbox: Any, stop: threading.Event) -> None:
    """Wait (up to WARM_WAIT_S, or until stopped) for the sandbox's warm pool to be full."""
    ready = getattr(sandbox, "warm_ready", None)
    deadline = time.monotonic() + WARM_WAIT_S
    while ready is not None and not ready() and not stop.wait(0.1):
        if time.monotonic() > deadline:
            log.warning("the warm pool is not full after %g s: serving anyway", WARM_WAIT_S)
            return


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    paths = DaemonPaths.for_user().private()
    lock = Lock(paths.lock)
    if not lock.take(LOCK_WAIT_S if args.replacing else 0):
        log.info("another daemon holds %s: exiting", paths.lock)
        return 0
    _trim(paths.log)
    try:
        return _run(paths, args.bank, args.backend, args.after)
    finally:
        if paths.read_pid() == os.getpid():
            paths.pid.unlink(missing_ok=True)
        lock.release()


def _wait_exit(pid: int, stop: threading.Event) -> None:
    """Wait (up to AFTER_WAIT_S, or until stopped) for `pid` to end: the check that started
    this daemon grades one-shot meanwhile, and should not share the CPUs with a warm-up."""
    deadline = time.monotonic() + AFTER_WAIT_S
    while running(pid) and time.monotonic() < deadline and not stop.wait(0.05):
        pass


def _trim(log_file: Path) -> None:
    """Empty the log (appended to by every daemon started) once it is past LOG_MAX bytes; the
    daemon before this one has let go of the lock, so it writes no more."""
    with contextlib.suppress(OSError):
        if log_file.stat().st_size > LOG_MAX:
            os.truncate(log_file, 0)


def _run(paths: DaemonPaths, bank: Path, backend: str | None, after: int | None) -> int:
    """Start, serve, close; a start that fails leaves its reason for the clients."""
    paths.pid.write_text(f"{os.getpid()}\n")
    paths.failed.unlink(missing_ok=True)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if after is not None:
        _wait_exit(after, stop)
    if stop.is_set():
        return 0
    try:
        daemon = _start(paths, bank, backend, stop)
    except Exception as exc:  # noqa: BLE001 - whatever stops a start is written down for clients
        log.exception("the daemon could not start")
        paths.failed.write_text(f"{type(exc).__name__}: {exc}\n")
        return 1
    try:
        wait_warm(daemon.warm.sandbox, daemon.stop)
        if not daemon.stop.is_set():
            daemon.serve()
    finally:
        daemon.warm.close()
        log.info("stopped after %d check(s)", daemon.requests)
    return 0


def _start(paths: DaemonPaths, bank: Path, backend: str | None, stop: threading.Event) -> Daemon:
    from grader.daemon.warm import WarmGrader
    from grader.settings import with_flags

    idle_seconds()  # a bad value stops the start before a sandbox is opened
    hello()  # the code as it is now: an edit after this start is another grader
    made_for = config(bank, backend)
    return Daemon(paths, made_for, WarmGrader(with_flags(bank, backend)), stop)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader.daemon", description=__doc__)
    parser.add_argument("--bank", type=Path, required=True, help="the bank folder, absolute")
    parser.add_argument("--backend", choices=("process", "docker"))
    parser.add_argument("--after", type=int, help="a pid to let finish before warming up")
    parser.add_argument(
        "--replacing", action="store_true", help="wait for the daemon before, which is exiting"
    )
    return parser
