"""A server killed with SIGKILL mid-grading loses nothing and grades nothing twice on restart, on
SQLite and on PostgreSQL (the store the README tells operators to run)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from grader.ops.loopback import ServerProcess
from grader.service.db import Submission, open_store
from tests.service.conftest import MakeServer, both_stores

REPO = Path(__file__).resolve().parents[2]
MCQ = "finetuning-purpose"
CODE = "binary-metrics"
#: A correct solution that takes its time, so the kill lands while it is being graded.
SLOW = b"import time\ntime.sleep(8)\n" + (REPO / "solutions" / CODE / "reference.py").read_bytes()


def wait_for(check: Callable[[], bool], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def status(http: httpx.Client, submission_id: str) -> str:
    return str(http.get(f"/v1/submissions/{submission_id}").json()["status"])


def rows(server: ServerProcess) -> dict[str, Submission]:
    sessions = open_store(server.db_url)
    try:
        with sessions() as session:
            return {row.id: row for row in session.scalars(select(Submission))}
    finally:
        sessions.kw["bind"].dispose()


@pytest.mark.torch
@pytest.mark.slow
@both_stores
def test_sigkill_mid_grading_then_restart_loses_nothing_grades_nothing_twice(
    make_server: MakeServer,
) -> None:
    # five of alice's at once: over the default cap on work in flight
    server = make_server(env={"GRADER_WORKERS": "2", "GRADER_STUDENT_INFLIGHT": "10"})
    with server.client(server.token("alice")) as http:
        slow = http.post("/v1/submissions", data={"question": CODE}, files={"file": ("s.py", SLOW)})
        assert slow.status_code == 202, slow.text
        slow_id = slow.json()["id"]
        wait_for(lambda: status(http, slow_id) == "running")
        quick = [
            http.post("/v1/submissions", data={"question": MCQ, "choice": c}).json()["id"]
            for c in "ABCD"
        ]
    assert server.kill(signal.SIGKILL) == -signal.SIGKILL
    before = rows(server)
    assert before[slow_id].status == "running" and before[slow_id].report is None

    server.start()
    with server.client(server.token("alice")) as http:
        wait_for(lambda: all(status(http, i) == "done" for i in [slow_id, *quick]))
        served = {i: http.get(f"/v1/submissions/{i}").json()["report"] for i in [slow_id, *quick]}
    after = rows(server)
    assert set(after) == {slow_id, *quick}
    assert all(row.status == "done" and row.report is not None for row in after.values())
    assert all(row.gradings == 1 for row in after.values()), "a submission was graded twice"
    assert after[slow_id].attempts == 2 and after[slow_id].verdict == "PASSED"
    assert all(served[i] == after[i].report for i in served)
    assert server.stop() == 0


def test_sigterm_stops_cleanly_and_restart_serves_the_same_store(make_server: MakeServer) -> None:
    server = make_server()
    with server.client(server.token("bob")) as http:
        created = http.post("/v1/submissions", data={"question": MCQ, "choice": "A"}).json()
        wait_for(lambda: status(http, created["id"]) == "done")
    assert server.stop() == 0
    assert "serving on" in server.log.read_text()
    server.start()
    with server.client(server.token("bob")) as http:
        again = http.get(f"/v1/submissions/{created['id']}")
    assert again.status_code == 200 and again.json()["report"]["question"] == MCQ
