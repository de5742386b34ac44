"""What the client and the daemon say to each other, and what makes them the same grader.

One request per connection: the client sends one frame, the daemon answers one frame. A frame is
a 4-byte big-endian length and that many bytes of a JSON object. Every request carries `hello`
(`hello()`: the grader's version, a digest of its own source files, the Python running it) and
a check also carries `config` (`config()`: what decides how it is graded). A daemon whose hello
or config differs from a check's refuses it and exits, and the client starts a new one: an
upgraded checkout, or a check under other settings, never talks to a daemon made for another.

    request  {"op": "check", "hello", "config", "item", "seed", "name", "data" (base64)}
             {"op": "status" | "stop", "hello"}
    reply    {"report": {...}, "stderr": "..."}      graded: the Report's JSON
             {"error": "...", "exit_code": 2, "stderr": "..."}   bad input, as one-shot says it
             {"fallback": "why"}                     grade it one-shot instead
             {"refused": "why"}                      other code or settings: the daemon exits
             {"status": {...}} | {"stopping": pid}

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import struct
import sys
from functools import cache
from pathlib import Path
from typing import Any

#: Bumped when a message changes shape.
PROTOCOL = 1
#: The largest frame either side reads: a 1 MiB submission is about 1.4 MiB in base64.
MAX_FRAME = 64 * 1024 * 1024
#: GRADER_* variables that say nothing of how a check is graded.
NOT_CONFIG = ("GRADER_DAEMON", "GRADER_DAEMON_IDLE_S", "GRADER_DEBUG")
PACKAGES = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "sandbox")
PYPROJECT = PACKAGES[0].parent / "pyproject.toml"
VERSION = re.compile(r'^version\s*=\s*"([^"]+)"', re.MULTILINE)
_HEADER = struct.Struct(">I")


class DaemonProblem(Exception):
    """Raised when the daemon cannot be used (not running, refused, cut off, too slow); the
    check is then graded one-shot. Never an error of the check itself."""


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(body)) + body)


def receive(sock: socket.socket) -> dict[str, Any]:
    """One frame's JSON object; `DaemonProblem` for a cut, oversized or malformed frame."""
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise DaemonProblem(f"a frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    try:
        message = json.loads(_exactly(sock, size))
    except ValueError as exc:
        raise DaemonProblem(f"a frame that is not JSON ({exc})") from exc
    if not isinstance(message, dict):
        raise DaemonProblem("a frame that is not a JSON object")
    return message


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except TimeoutError as exc:
            raise DaemonProblem("no answer in time") from exc
        except OSError as exc:
            raise DaemonProblem(f"the connection failed ({exc.strerror or exc})") from exc
        if not chunk:
            raise DaemonProblem("the connection closed mid-message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)


@cache
def hello() -> dict[str, Any]:
    """What makes two processes the same grader: version, source digest, Python and its
    environment."""
    return {
        "protocol": PROTOCOL,
        "version": _version(),
        "source": source_digest(),
        # the environment, not the path it was started by (`python`, `python3` and the venv's
        # `grader` script are one interpreter)
        "python": [sys.version, sys.prefix],
    }


def source_digest() -> str:
    """A SHA-256 over every Python file of the `grader` and `sandbox` packages: its path, size
    and modification time (a stat each, well under a millisecond for all, where reading them
    costs 15 ms of every check); an edit, an upgrade or another checkout changes it."""
    found: list[str] = []
    for package in PACKAGES:
        _python_files(str(package), found)
    return hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()


def _python_files(folder: str, found: list[str]) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _python_files(entry.path, found)
            elif entry.name.endswith(".py"):
                info = entry.stat()
                found.append(f"{entry.path}\0{info.st_size}\0{info.st_mtime_ns}")
        except OSError:
            found.append(f"{entry.path}\0unreadable")


def _version() -> str:
    """The version in the checkout's pyproject.toml (a read, where importlib.metadata's scan
    of the path costs a tenth of a second), else the installed distribution's."""
    try:
        found = VERSION.search(PYPROJECT.read_text(encoding="utf-8"))
    except OSError:
        found = None
    if found is not None:
        return found.group(1)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torchgrader")
    except PackageNotFoundError:
        return "unknown"


def config(bank: Path, backend: str | None) -> dict[str, Any]:
    """What decides how a check is graded besides the item and the file: the bank folder, the
    `--backend` flag, the `GRADER_*` variables and the working directory (relative paths in
    them are read from it)."""
    variables = {
        name: value
        for name, value in sorted(os.environ.items())
        if name.startswith("GRADER_") and name not in NOT_CONFIG
    }
    return {
        "bank": os.path.abspath(bank),
        "backend": backend,
        "env": variables,
        "cwd": os.getcwd(),
        "uid": os.getuid(),
    }
