"""Real grader processes on 127.0.0.1: a course server, its store, a broker and Celery workers.

For the people who measure the service and for its tests: `scripts/load.py` drives a
`ServerProcess` (and SIGKILLs it mid-grading), `scripts/load_celery.py` a `Fleet` of workers on
a broker, and the tests under tests/service/ use the same classes where a real process is the
point (a kill, a signal, a clean stop, a worker pool). Nothing here is used by the grader or the
service themselves.

    server = ServerProcess(folder, env={"GRADER_STUDENT_BURST": "2"}).start()
    with server.client(server.token("alice")) as http: http.get("/v1/questions")
    server.kill()             # SIGKILL, as a crash would
    server.start()            # same database, same port
    server.stop()             # SIGTERM, then wait

    redis = RedisServer(folder)                      # a private redis-server, free port
    fleet = Fleet(folder, redis.url, write_bank(folder / "bank"))
    fleet.start_worker("w0"); ids = [fleet.submit("quick", choice="B")]
    fleet.wait_done(ids, 60); fleet.close(); redis.close()

The production store and broker are the machine's own servers, found by URL (`PG_URL`,
`AMQP_URL`); a run never shares their rows or queues with another: it gets a scratch database
(`PostgresServer.create`, a random name, dropped after) and a private virtual host
(`RabbitVhost`, deleted after).

    postgres = PostgresServer()                      # GRADER_TEST_PG_URL, or the default
    server = ServerProcess(folder, db_url=postgres.create()).start()
    rabbit = RabbitVhost()                           # GRADER_TEST_AMQP_URL, or the default
    fleet = Fleet(folder, rabbit.url, bank, db_url=postgres.create())

Every child runs the `grader` package this process imported (its folder goes first on
PYTHONPATH), from `grader_home()`, with this process's environment minus every GRADER_* variable
plus what the caller passes: an operator's settings never leak into a measurement.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from kombu.connection import Connection
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from grader.service import store
from grader.service.celery_app import QUEUES
from grader.service.celery_dispatch import CeleryDispatcher
from grader.service.db import Submission, open_store, shown_url
from grader.service.settings import ServiceSettings
from sandbox.home import grader_home

#: The folder holding the `grader` package this process runs: children import the same code.
SOURCE = Path(__file__).resolve().parents[2]
GRADER = (sys.executable, "-m", "grader.cli")
READY = re.compile(r"serving on (http://\S+)")
WRITTEN = re.compile(r"report written: (\S+) by")

#: The machine's own PostgreSQL and RabbitMQ (CI's and a developer's: `make services` checks
#: both answer). Read once, when this module is imported, so the tests, which never see GRADER_*
#: while they run, and the load scripts find the same servers.
PG_URL = os.environ.get("GRADER_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("GRADER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the operator's GRADER_* settings, plus `extra`; this
    package's folder first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    path = [str(SOURCE), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    return env | dict(extra or {})


def run_grader(
    *argv: str, env: Mapping[str, str] | None = None, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """The `grader` command in a subprocess (`tokens create`, `lms add`, `submit`)."""
    return subprocess.run(
        [*GRADER, *argv],
        cwd=grader_home(),
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def wait_until(done: Callable[[], bool], timeout_s: float, poll_s: float = 0.2) -> bool:
    """Poll `done` until it holds or `timeout_s` passes; whether it held at the end."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(poll_s)
    return bool(done())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the course server ----------------------------------------------------------------------


class ServerProcess:
    """One `grader serve` on its own store (a SQLite file in `folder` unless `db_url` names one);
    restartable on the same database and port.

    Its log (stdout and stderr) is `log`, shown in full when it fails to start."""

    def __init__(
        self,
        folder: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        db_url: str | None = None,
    ) -> None:
        self.folder = folder
        self.db_url = db_url or f"sqlite:///{folder / 'grader.db'}"
        self.log = folder / "server.log"
        self.env = clean_env(env)
        self.args = list(args)
        self.url = ""
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Start (or restart) and wait until /healthz answers."""
        if self.process is not None:
            raise RuntimeError("the server is already running")
        self._log = self.log.open("ab")
        offset = self.log.stat().st_size
        argv = [*GRADER, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*argv, "--db", self.db_url, *self.args],
            cwd=grader_home(),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.url = self._wait_ready(self.process, offset, timeout_s)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes], offset: int, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = READY.search(self.log.read_bytes()[offset:].decode(errors="replace"))
            if found and self._healthy(found.group(1)):
                return found.group(1)
            if process.poll() is not None:
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
        if done.returncode != 0:
            raise RuntimeError(f"grader tokens create failed: {done.stderr}")
        return done.stdout.strip()

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client for this server (close it, or use it in a `with`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


# -- PostgreSQL -----------------------------------------------------------------------------


class PostgresServer:
    """A running PostgreSQL (`url`, by default the machine's), where a run makes scratch databases.

    Each `create()` is a new database with a random name, so two runs on one server (a test
    session and a load run, or two engineers' suites) and a run after a crashed one never see each
    other's rows; `drop()` (or `close()`, for every one made) removes it, connections and all.
    `RuntimeError` naming the server and the reason when it does not answer.
    """

    PREFIX = "grader_scratch_"

    def __init__(self, url: str = PG_URL) -> None:
        self.url = url
        self.made: list[str] = []
        try:  # the driver is imported here: without psycopg, this is the error to read
            self._admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with self._admin.connect() as db:
                db.execute(text("SELECT 1"))
        except (SQLAlchemyError, ImportError) as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise RuntimeError(f"PostgreSQL at {shown_url(url)} does not answer: {reason}") from exc

    def create(self) -> str:
        """A new, empty database on this server; its URL (same user, host and driver)."""
        name = f"{self.PREFIX}{secrets.token_hex(6)}"
        with self._admin.connect() as db:
            db.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return self._url_of(name)

    def _url_of(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        """Drop a database `create` made, closing whatever still holds it (a killed server's)."""
        name = make_url(url).database
        if name not in self.made:
            raise ValueError(f"{name!r} is not a scratch database of this run")
        with self._admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.made.remove(name)

    def close(self) -> None:
        """Drop every database still made, then let go of the server."""
        for name in list(self.made):
            self.drop(self._url_of(name))
        self._admin.dispose()


@contextmanager
def scratch_database(url: str = PG_URL) -> Iterator[str]:
    """A scratch database's URL on the server at `url`, dropped when the block ends."""
    server = PostgresServer(url)
    try:
        yield server.create()
    finally:
        server.close()


#: The stores and brokers a run can be given by name (`run_store`, `run_broker`).
STORES = ("sqlite", "postgres")
BROKERS = ("redis", "rabbitmq")


@contextmanager
def run_store(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new store of `kind` for one run: a SQLite file in `folder`, or a scratch
    database on the machine's PostgreSQL, dropped when the block ends."""
    if kind not in STORES:
        raise ValueError(f"unknown store {kind!r}; expected one of {', '.join(STORES)}")
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'grader.db'}"
        return
    with scratch_database() as url:
        yield url


# -- Redis and Celery workers ---------------------------------------------------------------

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
    """A small bank: `quick` (mcq), `slow-echo` (code, CPU), `gpu-echo` (code, GPU required)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quick.yaml").write_text(MCQ)
    (folder / "slow-echo.yaml").write_text(CODE.format(id="slow-echo", gpu="none"))
    (folder / "gpu-echo.yaml").write_text(CODE.format(id="gpu-echo", gpu="required"))
    return folder


def echo_source(sleep_s: float) -> bytes:
    """A passing `echo` submission that takes `sleep_s` seconds to load (long enough to kill)."""
    return f"import time\ntime.sleep({sleep_s})\n\n\ndef echo(x):\n    return x\n".encode()


class Broker(Protocol):
    """A broker a `Fleet` runs on, emptied between runs: a `RedisServer` or a `RabbitVhost`."""

    url: str

    def flush(self) -> None:
        """Empty every queue of the grader's; run it with no worker attached."""

    def depth(self, queue: str) -> int:
        """How many messages wait in `queue`, not yet handed to a worker."""

    def close(self) -> None:
        """Stop, or remove, what this object made."""


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
        if not wait_until(self._pong, 20.0, poll_s=0.1):
            self.close()
            raise RuntimeError(f"redis-server did not answer PING on port {self.port}")

    def _command(self, *words: str) -> bytes:
        """One command in Redis' protocol; the first reply line, as sent."""
        request = b"*%d\r\n" % len(words)
        for word in words:
            data = word.encode()
            request += b"$%d\r\n%s\r\n" % (len(data), data)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(request)
            return sock.recv(64).strip()

    def _pong(self) -> bool:
        try:
            return self._command("PING") == b"+PONG"
        except OSError:
            return False

    def depth(self, queue: str) -> int:
        """How many messages wait in the list `queue` (a Celery queue on Redis)."""
        return int(self._command("LLEN", queue).lstrip(b":"))

    def flush(self) -> None:
        """Empty the database: every queue and every unacknowledged message."""
        answer = self._command("FLUSHDB")
        if answer != b"+OK":
            raise RuntimeError(f"FLUSHDB answered {answer!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


class RabbitVhost:
    """A private virtual host on a running RabbitMQ (`url`, by default the machine's): its own
    queues and messages, deleted by `close()`.

    Made with this machine's `rabbitmqctl` (root, or the rabbitmq user), so `url` must name this
    machine's broker. Two runs on one broker never take each other's jobs, and nothing a crashed
    run left in its queues reaches the next. `RuntimeError` naming the broker and the reason when
    it does not answer or the virtual host cannot be made.
    """

    def __init__(self, url: str = AMQP_URL) -> None:
        parts = urlsplit(url)
        _amqp_answers(url)
        self.name = f"grader-scratch-{secrets.token_hex(6)}"
        _rabbitmqctl("add_vhost", self.name)
        user = unquote(parts.username or "guest")
        _rabbitmqctl("set_permissions", "-p", self.name, user, ".*", ".*", ".*")
        self.url = urlunsplit(parts._replace(path="/" + quote(self.name, safe="")))

    def flush(self) -> None:
        """Empty the grader's queues. Purged, not deleted: a process that sent to a queue once
        remembers it declared it (kombu caches that per broker URL) and would send into the void
        had it gone. Run it with no worker attached: a message a worker holds is not purged."""
        for queue in QUEUES:
            with _amqp(self.url) as connection:
                try:
                    connection.default_channel.queue_purge(queue)
                except connection.channel_errors:  # 404: not declared yet, nothing in it
                    pass

    def depth(self, queue: str) -> int:
        """How many messages wait in `queue`, not yet handed to a worker (0 if not declared)."""
        with _amqp(self.url) as connection:
            try:
                declared = connection.default_channel.queue_declare(queue, passive=True)
            except connection.channel_errors:  # 404: no such queue yet
                return 0
            return int(declared.message_count)

    def close(self) -> None:
        _rabbitmqctl("delete_vhost", self.name)


@contextmanager
def _amqp(url: str) -> Iterator[Any]:
    """A kombu connection to the broker at `url`, closed after the block."""
    with Connection(url, connect_timeout=10) as connection:  # type: ignore[no-untyped-call]
        yield connection


def _amqp_answers(url: str) -> None:
    """`RuntimeError` unless the AMQP broker at `url` accepts a connection."""
    try:
        with _amqp(url) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises the transport's own errors: any of them means no
        raise RuntimeError(f"RabbitMQ at {shown_url(url)} does not answer: {exc}") from exc


def _rabbitmqctl(*argv: str) -> None:
    """Run `rabbitmqctl argv...`; `RuntimeError` with its output when it fails."""
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        raise RuntimeError("rabbitmqctl is not installed here: it makes the private virtual hosts")
    done = subprocess.run(
        [binary, "-q", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(argv)} failed: {done.stderr or done.stdout}")


@contextmanager
def run_broker(kind: str, folder: Path) -> Iterator[Broker]:
    """A broker of `kind` for one run, closed when the block ends: a private redis-server (its
    files in `folder`), or a private virtual host on the machine's RabbitMQ."""
    if kind not in BROKERS:
        raise ValueError(f"unknown broker {kind!r}; expected one of {', '.join(BROKERS)}")
    broker: Broker = RedisServer(folder) if kind == "redis" else RabbitVhost()
    try:
        yield broker
    finally:
        broker.close()


@dataclass
class Worker:
    """One `grader worker` process (its own process group) and its log."""

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
    """Workers, a store and a dispatcher sharing one broker; `close()` stops every worker.

    The store is a SQLite file in `folder` unless `db_url` names one (a scratch PostgreSQL
    database). Workers are `grader worker` subprocesses (process sandbox), each in its own process
    group so SIGKILL takes the main process and its pool children together. `submit` stores and
    sends as `grader serve` does; `writes` counts report writes from the workers' own log lines
    (`report written: ID`, logged only when `store.finish` won)."""

    folder: Path
    broker: str
    bank: Path
    visibility_s: int = 10
    #: Seconds without a heartbeat before a worker's jobs go back (GRADER_WORKER_TIMEOUT).
    worker_timeout_s: float = 30.0
    db_url: str = ""
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.db_url = self.db_url or f"sqlite:///{self.folder / 'grader.db'}"
        self.sessions = open_store(self.db_url)
        settings = ServiceSettings(
            db_url=self.db_url, broker_url=self.broker, worker_timeout_s=self.worker_timeout_s
        )
        self.dispatcher = CeleryDispatcher(settings, self.sessions)

    def start_worker(
        self, name: str, queues: str = "cpu", concurrency: int = 1, gpus: str | None = None
    ) -> Worker:
        """Start a worker and wait until Celery says it is ready."""
        argv = [*GRADER, "--bank", str(self.bank), "worker", "--broker", self.broker]
        argv += ["--queues", queues, "--concurrency", str(concurrency), "--backend", "process"]
        argv += ["--db", self.db_url] + (["--gpus", gpus] if gpus else [])
        env = clean_env(
            {
                "GRADER_VISIBILITY_TIMEOUT": str(self.visibility_s),
                "GRADER_WORKER_TIMEOUT": str(self.worker_timeout_s),
            }
        )
        log = self.folder / f"{name}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=grader_home(),
            start_new_session=True,
        )
        worker = Worker(name, proc, log, out)
        self.workers.append(worker)
        wait_until(lambda: " ready." in worker.text() or proc.poll() is not None, 60)
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
            row: Submission | None = session.get(Submission, submission_id)
        if row is None:
            raise LookupError(f"no submission {submission_id}")
        return row

    def rows(self, ids: list[str]) -> list[Submission]:
        return [self.row(i) for i in ids]

    def wait_done(self, ids: list[str], timeout_s: float) -> bool:
        return wait_until(lambda: all(r.status == "done" for r in self.rows(ids)), timeout_s)

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
