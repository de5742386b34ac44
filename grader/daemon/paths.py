"""Where one user's daemon keeps its files, and the lock that lets only one of them run.

Everything sits in `<home>/.daemon-<uid>/`, a folder of the user's own with mode 0700: the socket
(`socket`, 0600), the pid file, the lock file, the log of the last daemon started and the
reason its last start failed. A folder that exists but is not the user's own, or is open to
others, is not used (the daemon is then skipped, never trusted). Standard library only: the
client side of `grader check` reads this before anything heavy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from grader.daemon.protocol import DaemonProblem
from sandbox.home import grader_home

#: The longest path a Unix socket can be bound at (sun_path holds 108 bytes, NUL included).
SOCKET_PATH_MAX = 107


@dataclass(frozen=True)
class DaemonPaths:
    """The files of the daemon of the user running this process."""

    folder: Path

    @classmethod
    def for_user(cls) -> DaemonPaths:
        return cls(grader_home() / f".daemon-{os.getuid()}")

    @property
    def socket(self) -> Path:
        return self.folder / "socket"

    @property
    def binding(self) -> Path:
        """Where the socket is bound before it is moved into place."""
        return self.folder / f".s{os.getpid():07d}"  # as long as any pid makes it

    @property
    def pid(self) -> Path:
        return self.folder / "pid"

    @property
    def lock(self) -> Path:
        return self.folder / "lock"

    @property
    def log(self) -> Path:
        return self.folder / "daemon.log"

    @property
    def failed(self) -> Path:
        return self.folder / "start-failed"

    def private(self) -> DaemonPaths:
        """Make the folder (0700) if it is missing; `DaemonProblem` when it is not this user's
        alone or the socket's path is too long to bind."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.folder.lstat()
        except OSError as exc:
            raise DaemonProblem(f"cannot make {self.folder} ({exc.strerror})") from exc
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise DaemonProblem(f"{self.folder} is not a folder of this user's")
        if info.st_mode & 0o077:
            raise DaemonProblem(f"{self.folder} is open to other users (mode must be 0700)")
        if len(os.fsencode(self.binding)) > SOCKET_PATH_MAX:
            raise DaemonProblem(f"the socket path {self.socket} is too long for a Unix socket")
        return self

    def read_pid(self) -> int | None:
        """The pid the running daemon wrote; None when there is none to read."""
        try:
            return int(self.pid.read_text().strip())
        except (OSError, ValueError):
            return None


class Lock:
    """`flock` on the lock file: held by the one running daemon for its whole life."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def take(self, wait_s: float = 0.0) -> bool:
        """Take the lock, trying for up to `wait_s` seconds; False when another holds it."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def held(paths: DaemonPaths) -> bool:
    """Whether a daemon holds the lock (it is running, or starting, or stopping)."""
    lock = Lock(paths.lock)
    try:
        return not lock.take()
    finally:
        lock.release()  # closing the file gives up a lock taken here


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie has ended, though its parent has not reaped it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
