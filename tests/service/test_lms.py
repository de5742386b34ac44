"""LMS webhooks against the app in process and a real receiving server on loopback.

The app is graded by its in-process pool and sends callbacks with the real delivery sender, over
HTTP, to the receiver. The LMS side signs with the reference `standardwebhooks` package, and the
receiver verifies the callbacks with it too, so the grader's own signing code is never checked
against itself. One test restarts a real `grader serve`: deliveries resume from the store.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import standardwebhooks
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.cli.app import main
from grader.ops.loopback import ServerProcess
from grader.service import lms_clients
from grader.service.db import Delivery, LmsClient, Submission, open_store
from tests.service.conftest import InProcess
from tests.support.receiver import Receiver, Reply

MCQ = "cats-dogs-500-images"
#: Callbacks go to the receiver on 127.0.0.1, on any port; deliveries retry 1000 times sooner.
SETTINGS = {"retry_scale": 0.001, "workers": 1}


@dataclass
class Served:
    """A course server (the app in process, or a real `grader serve`) on a store of its own, and
    its LMS client's first secret."""

    sessions: sessionmaker[Session]
    first_secret: str
    post_raw: Callable[[bytes, dict[str, str]], httpx.Response]
    db_url: str
    capsys: pytest.CaptureFixture[str] | None = None

    def lms(self, *argv: str) -> str:
        """`grader lms ...` as the operator runs it (in process); its stdout."""
        assert self.capsys is not None
        self.capsys.readouterr()
        code = main(["lms", *argv, "--db", self.db_url])
        out, err = self.capsys.readouterr()
        assert code == 0, err
        return out.strip()


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `check` until it holds; AssertionError if it never does within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def lms_body(callback: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "question": MCQ,
        "student": "stu-1",
        "submission_id": f"lms-{uuid.uuid4().hex[:8]}",
        "callback_url": callback,
        "choice": "A",
    }
    body.update(changes)
    return body


def post(
    server: Served,
    secret: str | None,
    body: dict[str, object] | bytes,
    *,
    msg_id: str | None = None,
    at: float | None = None,
    tamper: bool = False,
) -> httpx.Response:
    """POST as an LMS would, signing with the reference package."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = datetime.fromtimestamp(int(at or time.time()), tz=UTC)
    headers = {"content-type": "application/json"}
    if secret is not None:
        signature = standardwebhooks.Webhook(secret).sign(msg_id, stamp, raw.decode())
        headers.update(
            {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(stamp.timestamp())),
                "webhook-signature": signature,
            }
        )
    sent = raw + b" " if tamper else raw
    return server.post_raw(sent, headers)


def count(server: Served, model: type) -> int:
    with server.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def delivery(server: Served) -> Delivery | None:
    """The one delivery (None until the submission is graded)."""
    with server.sessions() as session:
        return session.scalar(select(Delivery))


def wait_delivery(server: Served, check: Callable[[Delivery], bool]) -> Delivery:
    """The delivery once `check` holds for it."""
    wait_until(lambda: (row := delivery(server)) is not None and check(row))
    row = delivery(server)
    assert row is not None
    return row


@pytest.fixture
def server(
    make_app: Callable[..., InProcess],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> Served:
    """The app in process, its LMS client `canvas` allowed to call back to 127.0.0.1 on any
    port; more `ServiceSettings` from an indirect parameter."""
    app = make_app(deliveries=True, **{**SETTINGS, **getattr(request, "param", {})})
    with app.sessions() as session:
        secret = lms_clients.add_client(session, "canvas", ["127.0.0.1"])

    def post_raw(body: bytes, headers: dict[str, str]) -> httpx.Response:
        answer: httpx.Response = app.client.post(
            "/v1/lms/submissions", content=body, headers=headers
        )
        return answer

    return Served(app.sessions, secret, post_raw, app.db_url, capsys)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Served, ServerProcess]]:
    """A real `grader serve` with the same LMS client, for the test that restarts it."""
    env = {"GRADER_RETRY_SCALE": "0.001", "GRADER_WORKERS": "1"}
    process = ServerProcess(tmp_path, env)
    done = process.grader("lms", "add", "canvas", "--callback-host", "127.0.0.1", "--create")
    assert done.returncode == 0, done.stderr
    process.start()
    sessions = open_store(process.db_url)

    def post_raw(body: bytes, headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(timeout=30) as http:
            return http.post(f"{process.url}/v1/lms/submissions", content=body, headers=headers)

    try:
        yield Served(sessions, done.stdout.strip(), post_raw, process.db_url), process
    finally:
        process.stop()
        sessions.kw["bind"].dispose()


@pytest.fixture
def secret(server: Served) -> str:
    return server.first_secret


@pytest.fixture
def receiver(secret: str) -> Iterator[Receiver]:
    with Receiver(secret) as lms:
        yield lms


def test_accepted_submission_is_graded_and_delivered_signed(server, secret, receiver):
    body = lms_body(receiver.url + "/hook")
    answer = post(server, secret, body)
    assert answer.status_code == 202, answer.text
    sub_id = answer.json()["id"]
    assert answer.json()["submission_id"] == body["submission_id"]
    [got] = receiver.wait_for(1)
    assert got.verified and got.path == "/hook"
    assert got.headers["webhook-id"].startswith("msg_")
    event = got.json()
    assert event["type"] == "submission.graded"
    assert event["data"]["id"] == sub_id
    assert event["data"]["submission_id"] == body["submission_id"]
    assert event["data"]["report"]["question"] == MCQ
    assert event["data"]["report"]["status"] in ("passed", "failed")
    wait_delivery(server, lambda d: d.state == "delivered")


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("unsigned", "missing signature headers"),
        ("wrong-secret", "no valid signature"),
        ("stale", "old"),
        ("future", "future"),
        ("tampered", "no valid signature"),
    ],
    ids=lambda v: v if v in ("unsigned", "wrong-secret", "stale", "future", "tampered") else "",
)
def test_rejected_without_a_valid_signature(server, how, reason):
    body = lms_body("http://127.0.0.1:9/hook")
    use = {"unsigned": None, "wrong-secret": lms_clients.new_secret()}.get(how, server.first_secret)
    at = {"stale": time.time() - 400, "future": time.time() + 400}.get(how)
    answer = post(server, use, body, at=at, tamper=how == "tampered")
    assert answer.status_code == 401
    assert reason in answer.json()["error"]
    assert "\n" not in answer.json()["error"]
    assert count(server, Submission) == 0


def test_replayed_webhook_id_returns_the_original(server, secret, receiver):
    body = lms_body(receiver.url + "/hook")
    first = post(server, secret, body, msg_id="msg_replay")
    again = post(server, secret, body, msg_id="msg_replay")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"]
    receiver.wait_for(1)
    wait_delivery(server, lambda d: d.state == "delivered")
    late = post(server, secret, body, msg_id="msg_replay")
    assert late.json()["id"] == first.json()["id"]
    assert count(server, Submission) == 1 and count(server, Delivery) == 1
    assert len(receiver.deliveries) == 1


def test_simultaneous_copies_create_one_submission(server, secret):
    body = lms_body("http://127.0.0.1:9/hook")
    answers: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(server, secret, body, msg_id="msg_x")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202]
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(server, Submission) == 1


def test_rotation_old_and_new_verify_until_retired(server, secret):
    new = server.lms("rotate", "canvas")
    assert new.startswith("whsec_") and new != secret
    assert post(server, secret, lms_body("http://127.0.0.1:9/h")).status_code == 202
    assert post(server, new, lms_body("http://127.0.0.1:9/h")).status_code == 202
    assert "removed 1 old secret" in server.lms("retire", "canvas")
    assert post(server, secret, lms_body("http://127.0.0.1:9/h")).status_code == 401
    assert post(server, new, lms_body("http://127.0.0.1:9/h")).status_code == 202


def test_callbacks_verify_with_either_secret_while_rotating(server, secret):
    new = server.lms("rotate", "canvas")
    with Receiver(secret) as old_side, Receiver(new) as new_side:
        assert post(server, new, lms_body(old_side.url + "/a")).status_code == 202
        assert post(server, new, lms_body(new_side.url + "/b")).status_code == 202
        assert old_side.wait_for(1)[0].verified
        assert new_side.wait_for(1)[0].verified


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"callback_url": "http://evil.example/hook"}, "not on a registered callback host"),
        ({"callback_url": "file:///etc/passwd"}, "not on a registered callback host"),
        ({"choice": None}, "either `filename` and `content`"),
        ({"choice": "Z"}, "Z"),
        ({"student": ""}, "student:"),
    ],
    ids=["foreign-host", "file-url", "no-answer", "bad-choice", "no-student"],
)
def test_malformed_bodies_are_422_with_the_reason(server, changes, reason):
    body = {
        k: v for k, v in lms_body("http://127.0.0.1:9/hook", **changes).items() if v is not None
    }
    answer = post(server, server.first_secret, body)
    assert answer.status_code == 422, answer.text
    assert reason in answer.json()["error"]
    assert count(server, Submission) == 0


def test_an_unknown_question_is_404_as_on_the_student_route(server):
    answer = post(server, server.first_secret, lms_body("http://127.0.0.1:9/hook", question="nope"))
    assert answer.status_code == 404 and "nope" in answer.json()["error"], answer.text
    assert count(server, Submission) == 0


def test_a_key_this_server_does_not_know_is_ignored(server):
    """Forward compatible, as a webhook consumer should be: a newer LMS may send more."""
    body = lms_body("http://127.0.0.1:9/hook", grade=100, lms_version="2027.1")
    answer = post(server, server.first_secret, body)
    assert answer.status_code == 202, answer.text
    assert count(server, Submission) == 1


def test_invalid_json_is_422(server):
    answer = post(server, server.first_secret, b'{"question": ')
    assert answer.status_code == 422 and "json" in answer.json()["error"].lower()


@pytest.mark.parametrize(
    "server",
    [{"client_burst": 2, "client_rate": 0.001}],
    indirect=True,
    ids=["burst-2"],
)
def test_client_rate_limit_is_429_with_retry_after(server, secret):
    codes = [post(server, secret, lms_body("http://127.0.0.1:9/h")).status_code for _ in range(2)]
    assert codes == [202, 202]
    third = post(server, secret, lms_body("http://127.0.0.1:9/h"))
    assert third.status_code == 429
    assert int(third.headers["retry-after"]) >= 1
    assert count(server, Submission) == 2


def test_retries_until_the_receiver_recovers(server, secret, receiver):
    receiver.script(Reply(500), Reply(503))
    assert post(server, secret, lms_body(receiver.url + "/hook")).status_code == 202
    got = receiver.wait_for(3)
    assert [d.answered for d in got] == [500, 503, 200]
    assert len({d.headers["webhook-id"] for d in got}) == 1  # the same message, retried
    assert all(d.verified for d in got)
    assert wait_delivery(server, lambda d: d.state == "delivered").attempts == 3


def test_410_stops_retries(server, secret, receiver):
    receiver.script(Reply(410))
    assert post(server, secret, lms_body(receiver.url + "/hook")).status_code == 202
    row = wait_delivery(server, lambda d: d.state == "failed")
    assert (row.attempts, row.last_status) == (1, 410)
    assert len(receiver.deliveries) == 1


def test_redirects_are_not_followed(server, secret, receiver):
    with Receiver(secret) as elsewhere:
        moved = Reply(307, {"location": elsewhere.url + "/stolen"})
        receiver.script(moved, moved, moved, moved)
        assert post(server, secret, lms_body(receiver.url + "/hook")).status_code == 202
        receiver.wait_for(2)
        row = wait_delivery(server, lambda d: d.attempts >= 2 and d.last_status is not None)
        assert elsewhere.deliveries == []
    assert row.last_status == 307 and row.state == "pending"
    assert "not followed" in (row.last_error or "")


def test_retry_after_is_honoured(server, secret, receiver):
    receiver.script(Reply(503, {"retry-after": "3600"}))
    before = time.time()
    assert post(server, secret, lms_body(receiver.url + "/hook")).status_code == 202
    row = wait_delivery(server, lambda d: d.last_status == 503)
    # the schedule (scaled by 0.001) would retry after 5 ms; the receiver asked for an hour
    assert row.attempts == 1 and row.next_attempt_at >= before + 3600
    assert len(receiver.deliveries) == 1


def test_host_unregistered_after_submission_is_not_called(server, secret, receiver):
    receiver.script(Reply(500))
    assert post(server, secret, lms_body(receiver.url + "/hook")).status_code == 202
    receiver.wait_for(1)
    with server.sessions() as session:
        session.execute(update(LmsClient).values(callback_hosts=["lms.example.edu"]))
        session.commit()
    row = wait_delivery(server, lambda d: d.state == "failed")
    assert "not on a callback host" in (row.last_error or "")
    assert len(receiver.deliveries) == 1


def test_retries_resume_after_a_restart(live):
    server, process = live
    with Receiver(server.first_secret) as receiver:
        receiver.script(Reply(503, {"retry-after": "3"}))
        body = lms_body(receiver.url + "/hook")
        assert post(server, server.first_secret, body).status_code == 202
        wait_delivery(server, lambda d: d.last_status == 503)
        process.stop()
        process.start()
        got = receiver.wait_for(2)
        assert [d.answered for d in got] == [503, 200]
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        wait_delivery(server, lambda d: d.state == "delivered")


@pytest.mark.parametrize(
    "server",
    [{"student_burst": 1, "student_rate": 0.001}],
    indirect=True,
    ids=["student-burst-1"],
)
def test_student_rate_limit_is_per_student(server, secret):
    assert post(server, secret, lms_body("http://127.0.0.1:9/h", student="a")).status_code == 202
    again = post(server, secret, lms_body("http://127.0.0.1:9/h", student="a"))
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
    assert "student" in again.json()["error"]
    assert post(server, secret, lms_body("http://127.0.0.1:9/h", student="b")).status_code == 202


def test_oversized_body_is_413_before_anything_else(server):
    huge = lms_body("http://127.0.0.1:9/h", choice=None, filename="a.py", content="#" * 3_000_000)
    answer = post(server, server.first_secret, huge)
    assert answer.status_code == 413
    assert count(server, Submission) == 0
