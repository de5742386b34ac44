"""Real Celery workers on a real Redis, for the scale-out tests and `scripts/load_celery.py`.

`Fleet` starts `grader worker` subprocesses (process sandbox, each in its own process group so
SIGKILL takes the main process and its pool children together), submits through the store and
`CeleryDispatcher` as the server does, and counts report writes from the workers' own log lines
(`report written: ID`, logged only when `store.finish` won).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import select

from grader.service import store
from grader.service.celery_dispatch import CeleryDispatcher
from grader.service.db import Submission, open_store
from grader.service.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
GRADER = [sys.executable, "-c", "import sys; from grader.cli.app import main; sys.exit(main())"]
WRITTEN = re.compile(r"report written: (\S+) by")

MCQ = """\
schema_version: 1
id: quick
kind: mcq
title: Last layer
prompt: Which attribute holds the last layer of a torchvision ResNet18?
difficulty: easy
choices:
  - text: model.classifier
    feedback: That is MobileNetV2's head.
  - text: model.fc
    feedback: Right, ResNets end with `fc`.
answer: B
explanation: torchvision ResNets name their last layer `fc`.
"""

CODE = """\
schema_version: 1
id: {id}
kind: code
title: Echo
prompt: Define echo(x).
difficulty: easy
explanation: Return x.
starter: "def echo(x): ..."
contract: [{{name: echo, signature: "echo(x) -> int"}}]
limits: {{wall_s: 30, gpu: {gpu}}}
checks:
  - name: echoes
    message: echo(3) is 3.
    call: {{function: echo, args: [3]}}
    expect: {{value: 3}}
"""


def write_bank(folder: Path) -> Path:
    """A test bank: `quick` (mcq), `slow-echo` (code, CPU), `gpu-echo` (code, GPU required)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quick.yaml").write_text(MCQ)
    (folder / "slow-echo.yaml").write_text(CODE.format(id="slow-echo", gpu="none"))
    (folder / "gpu-echo.yaml").write_text(CODE.format(id="gpu-echo", gpu="required"))
    return folder


def echo_source(sleep_s: float) -> bytes:
    """A passing `echo` submission that takes `sleep_s` seconds to load (long enough to kill)."""
    return f"import time\ntime.sleep({sleep_s})\n\n\ndef echo(x):\n    return x\n".encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server on a free loopback port, for one test session or one load run."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/install-redis.sh")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(folder)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def _wait(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port}")

    def llen(self, key: str) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            name = key.encode()
            sock.sendall(b"*2\r\n$4\r\nLLEN\r\n$%d\r\n%s\r\n" % (len(name), name))
            return int(sock.recv(64).strip().lstrip(b":"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    out: IO[bytes]
    killed: bool = False

    @property
    def scope(self) -> str:
        """What this worker's processes write into `graded_by`: `host:<main pid>/`."""
        return f":{self.proc.pid}/"

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Fleet:
    """Workers, a store and a dispatcher sharing one broker; `close()` kills every worker."""

    folder: Path
    broker: str
    bank: Path
    visibility_s: int = 10
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db_url = f"sqlite:///{self.folder / 'grader.db'}"
        self.sessions = open_store(self.db_url)
        self.dispatcher = CeleryDispatcher(
            ServiceSettings(db_url=self.db_url, broker_url=self.broker), self.sessions
        )

    def start_worker(
        self, name: str, queues: str = "cpu", concurrency: int = 1, gpus: str | None = None
    ) -> Worker:
        argv = [*GRADER, "--bank", str(self.bank), "worker", "--broker", self.broker]
        argv += ["--queues", queues, "--concurrency", str(concurrency), "--backend", "process"]
        argv += ["--db", self.db_url] + (["--gpus", gpus] if gpus else [])
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env["GRADER_VISIBILITY_TIMEOUT"] = str(self.visibility_s)
        env["PYTHONPATH"] = str(REPO)
        log = self.folder / f"{name}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
        )
        worker = Worker(name, proc, log, out)
        self.workers.append(worker)
        self._wait_for(lambda: " ready." in worker.text() or proc.poll() is not None, 60)
        if proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited {proc.returncode}:\n{worker.text()}")
        return worker

    def submit(
        self,
        question: str,
        *,
        choice: str | None = None,
        source: bytes | None = None,
        queue: str = "cpu",
    ) -> str:
        """Store a submission and send it, as `grader serve` does."""
        new = store.NewSubmission(
            question=question,
            student="load",
            queue=queue,
            choice=choice,
            filename="answer.py" if source is not None else None,
            content=source,
        )
        with self.sessions() as session:
            submission_id = store.add_submission(session, new).id
            session.commit()
        self.dispatcher.dispatch(submission_id, queue)
        return submission_id

    def row(self, submission_id: str) -> Submission:
        with self.sessions() as session:
            row = session.get(Submission, submission_id)
            assert row is not None
            return row

    def rows(self, ids: list[str]) -> list[Submission]:
        return [self.row(i) for i in ids]

    def wait_done(self, ids: list[str], timeout_s: float) -> bool:
        return self._wait_for(lambda: all(r.status == "done" for r in self.rows(ids)), timeout_s)

    def running_on(self, worker: Worker, question: str) -> str | None:
        """A submission of `question` that `worker` is grading right now, if any."""
        with self.sessions() as session:
            running = select(Submission).filter_by(status="running", question=question)
            rows = session.scalars(running)
            return next((r.id for r in rows if worker.scope in (r.graded_by or "")), None)

    def writes(self) -> Counter[str]:
        """Report writes per submission id, from every worker's log."""
        return Counter(m for w in self.workers for m in WRITTEN.findall(w.text()))

    def kill(self, worker: Worker) -> None:
        """SIGKILL the worker's whole process group: main process and pool children at once."""
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)
        worker.killed = True

    def close(self) -> None:
        for worker in self.workers:
            _stop(worker)
        self.dispatcher.stop()
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()

    @staticmethod
    def _wait_for(done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            time.sleep(0.2)
        return bool(done())


def _stop(worker: Worker) -> None:
    """TERM the group (a warm shutdown), KILL what is left after 15 s; always close the log."""
    try:
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGTERM)
            try:
                worker.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait(timeout=10)
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)  # pool children that outlived the main
        except ProcessLookupError:
            pass
    finally:
        worker.out.close()
