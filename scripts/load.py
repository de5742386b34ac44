"""Load test of the embedded course server, with a SIGKILL in the middle of grading.

Starts a real `grader serve` (process sandbox, in-process workers) on a new store: a SQLite file,
or with `--store postgres` a scratch database on the machine's PostgreSQL (GRADER_TEST_PG_URL,
default postgresql+psycopg://root@127.0.0.1:5432/test; dropped after). It sends submissions from
several students (mostly MCQ answers, a few code files), kills the server with SIGKILL while code
is being graded and half the submissions are in, restarts it on the same store and port, sends the
rest (clients retry while it is down), waits for every report through the API, and prints:

    submissions sent      accepted with 202 and an id
    reports delivered     of those, how many the API served a report for
    lost                  sent - delivered (must be 0)
    graded twice          submissions whose grading completed more than once (must be 0),
                          from the store's `gradings` count, which every completed grading bumps
                          whether or not its report was the one written
    throughput            reports delivered per second, from the first send to the last report
                          (the kill, the restart and the clients' retries included)

and then, on the restarted server, a fairness figure: one student floods the workers with slow
code jobs, another sends one answer; it prints the light student's wait for a worker against one
heavy job, and how many heavy jobs were claimed while it waited (0 when students take turns; a
claim decided in the moment before the answer was committed may still count once). Last, it sends
a slow code job and SIGTERMs the server while it is graded: how long the server took to exit, and
the sandbox processes (its descendants just before the signal) and folders (`grader-run-*`,
`grader-zygote-*` in its own TMPDIR) left behind (both must be 0).

Exit status 1 when lost, graded twice or anything left behind is not 0.
Usage: `python scripts/load.py [-n 200] [--store sqlite|postgres]`.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
from sqlalchemy import ColumnElement, func, select

from grader.ops.loopback import STORES, ServerProcess, run_store
from grader.service.db import Submission, open_store

REPO = Path(__file__).resolve().parents[1]

MCQ = ("finetuning-purpose", "freeze-with-requires-grad", "pretrained-saves-time")
CODE = "binary-metrics"
SOLUTIONS = REPO / "solutions" / CODE
DOWN_RETRY_S = 180.0
SLOW = b"import time\ntime.sleep(10)\n"
#: The fairness figure: the heavy student's jobs, each this much slower than the reference.
FLOOD = 10
FLOOD_SLOW = b"import time\ntime.sleep(1)\n"


@dataclass
class Tally:
    """What the clients saw; threads add to it under a lock."""

    sent: dict[str, str] = field(default_factory=dict)  # submission id -> its student's token
    unanswered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def code_files() -> list[tuple[str, bytes]]:
    """The item's solutions, the first two made slow (a sleep before the code) so that the kill
    lands while they are being graded, however fast the sandbox is."""
    files = [(path.name, path.read_bytes()) for path in sorted(SOLUTIONS.glob("*.py"))]
    slow = [(f"slow-{name}", SLOW + content) for name, content in files[:2]]
    return slow + files


def work(n: int, code: int, students: int, seed: int) -> list[tuple[int, dict[str, object]]]:
    """(student, form) pairs: `code` code files first (so grading is busy early), then MCQs."""
    rng = random.Random(seed)
    files = code_files()
    jobs: list[tuple[int, dict[str, object]]] = []
    for i in range(n):
        if i < code:
            form: dict[str, object] = {"question": CODE, "file": files[i % len(files)]}
        else:
            form = {"question": rng.choice(MCQ), "choice": rng.choice("ABC")}
        jobs.append((rng.randrange(students), form))
    return jobs


def send(server: ServerProcess, token: str, form: dict[str, object], tally: Tally) -> None:
    """POST until the server answers 202; a request with no answer (the server died) is retried."""
    data = {k: v for k, v in form.items() if k != "file"}
    upload = cast(tuple[str, bytes] | None, form.get("file"))
    files = {"file": upload} if upload is not None else None
    deadline = time.monotonic() + DOWN_RETRY_S
    while True:
        try:
            with server.client(token) as http:
                response = http.post("/v1/submissions", data=data, files=files)
            response.raise_for_status()
            break
        except httpx.TransportError:
            with tally.lock:
                tally.unanswered += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with tally.lock:
        tally.sent[response.json()["id"]] = token


def count(server: ServerProcess, *conditions: ColumnElement[bool]) -> int:
    sessions = open_store(server.db_url)
    try:
        with sessions() as session:
            query = select(func.count()).select_from(Submission).where(*conditions)
            return int(session.scalar(query) or 0)
    finally:
        sessions.kw["bind"].dispose()


def wait_running_code(server: ServerProcess, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    running = (Submission.status == "running", Submission.question == CODE)
    while count(server, *running) == 0:
        if time.monotonic() > deadline:
            raise SystemExit("error: no code submission started grading; is the runtime there?")
        time.sleep(0.1)


def delivered(server: ServerProcess, tally: Tally, timeout_s: float) -> int:
    """How many sent submissions the API serves a report for (to their student), waiting up to
    `timeout_s`."""
    pending = dict(tally.sent)
    deadline = time.monotonic() + timeout_s
    with server.client() as http:
        while pending and time.monotonic() < deadline:
            for sid, token in list(pending.items()):
                view = http.get(
                    f"/v1/submissions/{sid}", headers={"Authorization": f"Bearer {token}"}
                )
                if view.status_code == 200 and view.json()["report"]:
                    del pending[sid]
            time.sleep(0.5)
    return len(tally.sent) - len(pending)


def run(args: argparse.Namespace, folder: Path, db_url: str) -> int:
    (folder / "tmp").mkdir()
    env = {
        "TMPDIR": str(folder / "tmp"),  # its own: what a SIGTERM leaves behind is counted there
        "GRADER_SHUTDOWN_GRACE": "2",
        "GRADER_STUDENT_BURST": "1000000",
        "GRADER_STUDENT_INFLIGHT": "1000000",
        "GRADER_WORKERS": str(args.workers),
    }
    server = ServerProcess(folder, env=env, db_url=db_url).start()
    tokens = [server.token(f"load-{i}") for i in range(args.students)]
    jobs = work(args.submissions, args.code, args.students, args.seed)
    half = len(jobs) // 2
    tally = Tally()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda j: send(server, tokens[j[0]], j[1], tally), jobs[:half]))
            wait_running_code(server)
            server.kill()
            killed_running = count(server, Submission.status == "running")
            rest = [pool.submit(send, server, tokens[s], form, tally) for s, form in jobs[half:]]
            time.sleep(1.0)  # the server stays down a moment; clients keep retrying
            server.start()
            for future in rest:
                future.result()
        got = delivered(server, tally, args.timeout)
        wall_s = time.monotonic() - started
        twice = count(server, Submission.gradings > 1)
        stored = count(server)
        fair = fairness(server, args.timeout)
        left = sigterm_mid_job(server, tokens[0], folder / "tmp")
    finally:
        server.stop()
    requeued = re.findall(r"re-queued (\d+)", server.log.read_text())
    status = report(args, tally, got, wall_s, twice, stored, killed_running, requeued)
    fair.report()
    left.report()
    return status or (1 if left.processes or left.folders else 0)


@dataclass(frozen=True)
class Leftovers:
    """What a SIGTERM sent while a slow code job runs leaves behind once the server has exited."""

    exit_s: float
    watched: int  # the server's descendants at the signal: the sandbox's processes among them
    processes: list[str]
    folders: list[str]

    def report(self) -> None:
        print(f"{'SIGTERM mid-job: server exited in':<34}{self.exit_s:.1f} s")
        print(f"{'  its processes at the signal':<34}{self.watched}")
        print(f"{'  sandbox processes left':<34}{len(self.processes)} {self.processes[:3]}")
        print(f"{'  sandbox folders left':<34}{len(self.folders)} {self.folders[:3]}")


def sigterm_mid_job(server: ServerProcess, token: str, tmpdir: Path) -> Leftovers:
    """Send a slow code job, SIGTERM the server while it is graded, and list the server's
    descendants (taken just before the signal) still alive after it exits, and the sandbox
    folders left in its TMPDIR."""
    name, content = code_files()[0]  # a slow one: it sleeps before its code
    with server.client(token) as http:
        http.post("/v1/submissions", data={"question": CODE}, files={"file": (name, content)})
    wait_running_code(server)
    assert server.process is not None
    before = descendants(server.process.pid)
    start = time.monotonic()
    server.stop()
    exit_s = time.monotonic() - start
    alive = [f"{pid} {cmd}" for pid, (began, cmd) in before.items() if _started(pid) == began]
    folders = [p.name for p in tmpdir.glob("grader-*") if p.name.startswith(SANDBOX_DIRS)]
    return Leftovers(exit_s, len(before), alive, folders)


SANDBOX_DIRS = ("grader-run-", "grader-zygote-")


def descendants(root: int) -> dict[int, tuple[str, str]]:
    """Every process below `root`, with its start time and command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    below, frontier = {}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        for pid in frontier:
            cmd = _read(Path(f"/proc/{pid}/cmdline"))[:120]
            below[pid] = (_started(pid), cmd)
    return below


def _started(pid: int) -> str:
    """The process's start time in clock ticks ('' when it is gone or a zombie, which burns
    nothing): a pid reused later differs."""
    text = _read(Path(f"/proc/{pid}/stat"))
    if ")" not in text:
        return ""
    fields = text.rsplit(")", 1)[1].split()
    return "" if fields[0] == "Z" else fields[19]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class Fairness:
    """A light student's one answer sent while a heavy student's slow jobs fill the queue."""

    wait_s: float  # from the light one's arrival to its claim by a worker
    heavy_job_s: float  # the heavy jobs' median grading time
    claimed_ahead: int  # heavy jobs claimed while the light one waited

    def report(self) -> None:
        rows = [
            ("light student's wait for a worker", f"{self.wait_s:.2f} s"),
            ("one heavy job (median)", f"{self.heavy_job_s:.2f} s"),
            (f"heavy jobs claimed ahead (of {FLOOD})", self.claimed_ahead),
        ]
        for name, value in rows:
            print(f"{name:<34}{value}")


def fairness(server: ServerProcess, timeout_s: float) -> Fairness:
    """Flood with FLOOD slow code jobs from one student, then one MCQ answer from another."""
    heavy, light = server.token("flood-heavy"), server.token("flood-light")
    slow = FLOOD_SLOW + (SOLUTIONS / "reference.py").read_bytes()
    with server.client(heavy) as http:
        files = {"file": ("slow.py", slow)}
        sent = [
            http.post("/v1/submissions", data={"question": CODE}, files=files) for _ in range(FLOOD)
        ]
    with server.client(light) as http:
        mine = http.post("/v1/submissions", data={"question": MCQ[0], "choice": "A"})
    flood = [answer.raise_for_status().json()["id"] for answer in sent]
    own, *rows = done_rows(server, [mine.raise_for_status().json()["id"], *flood], timeout_s)
    claimed = own.started_at or 0.0
    ahead = sum(1 for row in rows if own.created_at < (row.started_at or 0.0) < claimed)
    times = sorted((row.finished_at or 0.0) - (row.started_at or 0.0) for row in rows)
    return Fairness(claimed - own.created_at, times[len(times) // 2], ahead)


def done_rows(server: ServerProcess, ids: list[str], timeout_s: float) -> list[Submission]:
    """The stored rows of `ids`, in that order, once every one is graded."""
    sessions = open_store(server.db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with sessions() as session:
                rows = [session.get(Submission, i) for i in ids]
            if all(row is not None and row.status == "done" for row in rows):
                return [row for row in rows if row is not None]
            if time.monotonic() > deadline:
                raise SystemExit("error: the fairness submissions were not graded in time")
            time.sleep(0.2)
    finally:
        sessions.kw["bind"].dispose()


def report(
    args: argparse.Namespace,
    tally: Tally,
    got: int,
    wall_s: float,
    twice: int,
    stored: int,
    killed_running: int,
    requeued: list[str],
) -> int:
    lost = len(tally.sent) - got
    print(
        f"load: {args.submissions} submissions ({args.code} code) from {args.students} students, "
        f"{args.workers} workers, store {args.store}; server SIGKILLed once mid-grading and "
        "restarted"
    )
    rows = [
        ("submissions sent", len(tally.sent)),
        ("reports delivered", got),
        ("lost", lost),
        ("graded twice", twice),
        ("throughput, reports/s", f"{got / wall_s:.1f} ({wall_s:.1f} s)"),
        ("running when killed", killed_running),
        ("re-queued on restart", sum(int(n) for n in requeued)),
        ("attempts with no answer (retried)", tally.unanswered),
        ("submissions stored", stored),
    ]
    for name, value in rows:
        print(f"{name:<34}{value}")
    return 1 if lost or twice else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--submissions", type=int, default=200)
    parser.add_argument("--code", type=int, default=6, help="how many are code files")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=2, help="the server's grading threads")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for reports")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--store",
        choices=STORES,
        default="sqlite",
        help="a SQLite file, or a scratch database on the machine's PostgreSQL",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grader-load-") as folder:
        with run_store(args.store, Path(folder)) as db_url:
            return run(args, Path(folder), db_url)


if __name__ == "__main__":
    sys.exit(main())
