"""A real `grader serve` in a subprocess on loopback, for tests and scripts/load.py.

    server = ServerProcess(tmp_path, env={"GRADER_STUDENT_BURST": "2"}).start()
    token = server.token("alice")
    with server.client(token) as http: http.get("/v1/questions")
    server.kill()             # SIGKILL, as a crash would
    server.start()            # same database, same port
    server.stop()             # SIGTERM, then wait

Its environment is this process's minus every GRADER_* variable, plus `env`; its log (stdout and
stderr) is `server.log`, shown in full when it fails to start.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]
GRADER = (sys.executable, "-m", "grader.cli")
READY = re.compile(r"serving on (http://\S+)")


class ServerProcess:
    """One course server with its own SQLite file; restartable on the same database and port."""

    def __init__(
        self, folder: Path, env: Mapping[str, str] | None = None, args: Sequence[str] = ()
    ) -> None:
        self.folder = folder
        self.db_url = f"sqlite:///{folder / 'grader.db'}"
        self.log = folder / "server.log"
        self.env = clean_env(env)
        self.args = list(args)
        self.url = ""
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Start (or restart) and wait until /healthz answers."""
        assert self.process is None, "already running"
        self._log = self.log.open("ab")
        offset = self.log.stat().st_size
        argv = [*GRADER, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*argv, "--db", self.db_url, *self.args],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.url = self._wait_ready(offset, timeout_s)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _wait_ready(self, offset: int, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        assert self.process is not None
        while time.monotonic() < deadline:
            found = READY.search(self.log.read_bytes()[offset:].decode(errors="replace"))
            if found and self._healthy(found.group(1)):
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        log = self.log.read_text(errors="replace")
        self.kill()
        raise RuntimeError(f"grader serve did not start; its log:\n{log}")

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, sig: int = signal.SIGKILL, timeout_s: float = 30.0) -> int | None:
        """Send `sig` and wait for the process to end; its exit status (None if not running)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def stop(self) -> int | None:
        """A clean stop (SIGTERM), as an operator's service manager does it."""
        return self.kill(signal.SIGTERM)

    def grader(
        self, *argv: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a `grader` command against this server's database (`tokens create`, `lms add`)."""
        return run_grader(*argv, env={"GRADER_DB_URL": self.db_url, **(env or {})})

    def token(self, student: str, course: str | None = None) -> str:
        """A new bearer token, made with `grader tokens create` as an instructor would."""
        extra = ["--course", course] if course else []
        done = self.grader("tokens", "create", "--student", student, *extra)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client for this server (close it, or use it in a `with`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the operator's GRADER_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    return env | dict(extra or {})


def run_grader(
    *argv: str, env: Mapping[str, str] | None = None, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """The `grader` command in a subprocess, from the repository root."""
    return subprocess.run(
        [*GRADER, *argv],
        cwd=REPO,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
