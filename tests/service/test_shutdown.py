"""A stopping server: running jobs get the grace period, then every sandbox process it started is
killed, their folders go, and the unfinished submissions are `queued` again with no report.

In process, the pool with a sandbox that holds its run until it is closed; then a real `grader
serve` on the process backend, stopped with SIGTERM while a submission burns CPU.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank
from grader.service import store
from grader.service.db import Submission, open_store
from grader.service.pool import LocalPool
from grader.service.settings import ServiceSettings
from grader.service.shutdown import Abandoned, Stoppable
from sandbox.base import RunRequest, RunResult
from sandbox.fake import result
from sandbox.process import staging
from sandbox.process.jail import Runtime
from sandbox.settings import SandboxSettings
from tests.service.conftest import MakeServer

CODE = "binary-metrics"


class Held:
    """A sandbox whose runs last until it is closed, as a killed run ends when its sandbox does."""

    name = "held"

    def __init__(self) -> None:
        self.running = threading.Event()
        self.closed = threading.Event()

    def run(self, request: RunRequest) -> RunResult:
        self.running.set()
        assert self.closed.wait(60), "the pool never closed the sandbox"
        return result(exit_code=None, stderr=b"killed")

    def close(self) -> None:
        self.closed.set()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    made = open_store(f"sqlite:///{tmp_path / 'shutdown.db'}")
    yield made
    made.kw["bind"].dispose()


def submit(sessions: sessionmaker[Session], source: bytes) -> str:
    new = store.NewSubmission(question=CODE, student="s", filename="s.py", content=source)
    with sessions() as session:
        submission_id = store.add_submission(session, new).id
        session.commit()
    return submission_id


def row(sessions: sessionmaker[Session], submission_id: str) -> Submission:
    with sessions() as session:
        found = session.get(Submission, submission_id)
    assert found is not None
    return found


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not in {timeout_s} s"
        time.sleep(0.05)


def start_pool(
    sessions: sessionmaker[Session],
    bank: Bank,
    held: Held,
    hurry: threading.Event | None = None,
) -> LocalPool:
    settings = ServiceSettings(workers=1, shutdown_grace_s=0.5)
    pool = LocalPool(settings, sessions, bank, open_sandbox=lambda: held, poll_s=0.05, hurry=hurry)
    pool.start()
    return pool


def test_a_job_past_the_grace_period_is_stopped_and_queued_again_without_a_report(
    sessions: sessionmaker[Session], course_bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    held = Held()
    pool = start_pool(sessions, course_bank, held)
    submission_id = submit(sessions, b"x = 1\n")
    assert held.running.wait(30), "the worker never ran the job"
    started = time.monotonic()
    with caplog.at_level("INFO", logger="grader.service.shutdown"):
        pool.stop()
    assert held.closed.is_set() and time.monotonic() - started < 5
    stopped = row(sessions, submission_id)
    assert (stopped.status, stopped.report, stopped.gradings) == ("queued", None, 0)
    said = caplog.text
    assert f"waiting up to 0.5 s for 1 running job(s): {submission_id}" in said
    assert "grace period over" in said
    assert f"re-queued 1 unfinished submission(s): {submission_id}" in said


def test_a_second_signal_ends_the_grace_period(
    sessions: sessionmaker[Session], course_bank: Bank
) -> None:
    held, hurry = Held(), threading.Event()
    pool = start_pool(sessions, course_bank, held, hurry=hurry)
    submit(sessions, b"x = 1\n")
    assert held.running.wait(30)
    threading.Timer(0.2, hurry.set).start()
    started = time.monotonic()
    pool.stop(timeout_s=60)
    assert time.monotonic() - started < 10


def test_a_stopped_sandbox_abandons_its_run_and_every_later_one() -> None:
    held = Held()
    stoppable = Stoppable(held)
    threading.Timer(0.2, stoppable.stop).start()
    request = RunRequest(argv=("python", "-c", "pass"))
    with pytest.raises(Abandoned):
        stoppable.run(request)
    with pytest.raises(Abandoned):
        stoppable.run(request)


# -- a real server, a real sandbox ------------------------------------------------------------

GRACE_S = 2.0
#: What a stop may take beyond the grace period: uvicorn's drain, killing, reaping, the store.
MARGIN_S = 25.0
#: Names itself (PR_SET_NAME: so the test finds it in /proc), then burns a core until killed.
BURN = b"""\
import ctypes

ctypes.CDLL(None).prctl(15, b"grader-burn", 0, 0, 0)
while True:
    pass
"""


def process_backend() -> None:
    """Skip unless the process backend is wanted here and can run (its runtime exists)."""
    only = [n.strip() for n in os.environ.get("GRADER_TEST_BACKENDS", "").split(",") if n.strip()]
    if only and not any(name.startswith("process") for name in only):
        pytest.skip(f"GRADER_TEST_BACKENDS={','.join(only)} leaves out the process backend")
    runtime = SandboxSettings().runtime
    if Runtime.find(runtime) is None:
        pytest.skip(f"no sandbox runtime at {runtime}: run `make runtime`")


def processes() -> dict[int, tuple[int, str]]:
    """Every process on the host: pid -> (parent pid, start ticks)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), fields[19])
    return found


def descendants(root: int) -> set[tuple[int, str]]:
    """(pid, start) of every process below `root`: its sandboxes, whatever session they lead."""
    table = processes()
    below, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in table.items() if parent in frontier}
        below |= {(pid, table[pid][1]) for pid in frontier}
    return below


def read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def marked(tag: str, tmpdir: Path) -> list[str]:
    """Processes in a cgroup of the server's runs, or started from its temporary folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (
            f"grader-run-{tag}-" in read(entry / "cgroup") or str(tmpdir) in read(entry / "cmdline")
        ):
            found.append(f"{entry.name}: {read(entry / 'cmdline')[:200]}")
    return found


def cgroups_left(tag: str) -> list[Path]:
    """The server's run cgroups still in the tree (beside this process's own, like the server's)."""
    found: list[Path] = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for controller in filter(None, names.split(",")):
            parent = Path("/sys/fs/cgroup", controller, path.lstrip("/"))
            found += parent.glob(f"grader-run-{tag}-*")
    return found


def burner(server_pid: int) -> int | None:
    """The submission's process, once it runs: below the server, named `grader-burn`."""
    return next(
        (
            pid
            for pid, _ in descendants(server_pid)
            if read(Path(f"/proc/{pid}/comm")).strip() == "grader-burn"
        ),
        None,
    )


def zygotic(pid: int) -> bool:
    """Whether `pid` is a zygote or a child of one (a warm job)."""
    return "process_zygote" in read(Path(f"/proc/{pid}/cmdline"))


def zygote_ready(server_pid: int) -> bool:
    """A zygote has forked its child for the next job: it has imported torch and said ready."""
    table = processes()
    return any(
        zygotic(pid) and zygotic(table.get(pid, (0, ""))[0]) for pid, _ in descendants(server_pid)
    )


def warm_job(pid: int) -> bool:
    """Whether `pid` descends from a zygote."""
    table = processes()
    while pid > 1:
        if zygotic(pid):
            return True
        pid = table.get(pid, (0, ""))[0]
    return False


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_sigterm_mid_job_leaves_no_process_no_folder_and_the_job_queued(
    make_server: MakeServer, tmp_path: Path, warm: bool
) -> None:
    process_backend()
    if warm and os.geteuid() != 0:
        pytest.skip("the process sandbox's warm pool needs root (the jail and cgroups)")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {
        "TMPDIR": str(tmpdir),
        "GRADER_BACKEND": "process",
        "GRADER_WORKERS": "1",
        "GRADER_WARM": "1" if warm else "0",
        "GRADER_POOL_SIZE": "1",
        "GRADER_SHUTDOWN_GRACE": str(GRACE_S),
    }
    server = make_server(env=env)
    assert server.process is not None
    pid = server.process.pid
    tag = staging.owner_tag(pid)
    if warm:
        wait_for(lambda: zygote_ready(pid), 240, "the warm pool never got ready")
    with server.client(server.token("burner")) as http:
        sent = http.post("/v1/submissions", data={"question": CODE}, files={"file": ("b.py", BURN)})
        assert sent.status_code == 202, sent.text
        submission_id = sent.json()["id"]
        wait_for(lambda: burner(pid) is not None, 180, "the submission never started burning")
        assert http.get(f"/v1/submissions/{submission_id}").json()["status"] == "running"
    burning = burner(pid)
    assert burning is not None and warm_job(burning) == warm
    time.sleep(1.0)  # a second of burning: well inside the run, nowhere near its limits
    started = descendants(pid)  # the sandboxes' processes, the burning one among them

    begun = time.monotonic()
    code = server.stop()
    took = time.monotonic() - begun
    log = server.log.read_text(errors="replace")

    assert code == 0, log
    assert took < GRACE_S + MARGIN_S, f"the stop took {took:.1f} s\n{log}"
    alive = processes()
    assert not [p for p, start in started if alive.get(p, (0, ""))[1] == start], log
    assert not marked(tag, tmpdir), log
    assert not cgroups_left(tag), log
    assert sorted(p.name for p in tmpdir.iterdir()) == [], log
    sessions = open_store(server.db_url)
    try:
        stopped = row(sessions, submission_id)
    finally:
        sessions.kw["bind"].dispose()
    assert (stopped.status, stopped.report) == ("queued", None), log
    steps = re.findall(r" grader\.service\.shutdown: (.*)$", log, re.MULTILINE)
    assert steps[0] == "SIGTERM: no longer accepting requests", steps
    assert f"re-queued 1 unfinished submission(s): {submission_id}" in steps, steps
    assert steps[-1] == "stopped", steps
