"""The delivery sender one pass at a time: a real store, a real receiver, simulated clocks."""

from __future__ import annotations

import socket
import threading
import time
from email.utils import formatdate

import pytest
from sqlalchemy import select

from grader.service import lms_clients, store
from grader.service.db import Delivery, open_store
from grader.service.deliveries import MAX_RETRY_AFTER_S, DeliverySender, retry_after_seconds
from grader.service.settings import RETRY_SCHEDULE, ServiceSettings
from tests.service.conftest import both_stores
from tests.support.receiver import Receiver, Reply

REPORT = {"question": "q", "status": "passed", "verdict": "PASSED", "score": 1, "max_score": 1}


@pytest.fixture
def sessions(store_url):
    factory = open_store(store_url())
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def secret(sessions):
    with sessions() as session:
        return lms_clients.add_client(session, "canvas", ["127.0.0.1"])


@pytest.fixture
def receiver(secret):
    with Receiver(secret) as lms:
        yield lms


def graded(sessions, callback_url: str) -> str:
    """A graded LMS submission whose report is owed to `callback_url`."""
    with sessions() as session:
        client = lms_clients.get_client(session, "canvas")
        new = store.NewSubmission(
            question="q", student="s", choice="A", client_id=client.id, callback_url=callback_url
        )
        row = store.add_submission(session, new)
        session.commit()
        assert store.finish(session, row.id, REPORT)
        return row.id


def the_delivery(sessions) -> Delivery:
    with sessions() as session:
        row = session.scalar(select(Delivery))
        assert row is not None
        return row


def sender(sessions, **settings: float) -> DeliverySender:
    return DeliverySender(sessions, ServiceSettings(**settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (formatdate(1_000_060, usegmt=True), 60.0), ("soon", None), (None, None)],
    ids=["seconds", "http-date", "garbage", "absent"],
)
def test_retry_after_forms(value, seconds):
    assert retry_after_seconds(value, 1_000_000.0) == seconds


def test_retry_after_is_capped():
    assert retry_after_seconds(str(10**9), 0.0) == MAX_RETRY_AFTER_S


@both_stores
def test_gives_up_when_the_schedule_is_spent(sessions, receiver):
    receiver.script(*[Reply(500)] * len(RETRY_SCHEDULE))
    graded(sessions, receiver.url + "/hook")
    one = sender(sessions)
    try:
        for step in range(len(RETRY_SCHEDULE) + 2):
            one.deliver_due(now=time.time() + step * 10**6)
    finally:
        one.stop()
    row = the_delivery(sessions)
    assert (row.state, row.attempts) == ("failed", len(RETRY_SCHEDULE))
    assert len(receiver.wait_for(len(RETRY_SCHEDULE))) == len(RETRY_SCHEDULE)


def test_not_due_before_the_next_delay(sessions, receiver):
    receiver.script(Reply(500))
    graded(sessions, receiver.url + "/hook")
    one = sender(sessions)
    try:
        start = time.time()
        assert one.deliver_due(now=start) == 1
        assert one.deliver_due(now=start + RETRY_SCHEDULE[1] / 2) == 0
        assert one.deliver_due(now=start + 3 * RETRY_SCHEDULE[1]) == 1
    finally:
        one.stop()
    assert the_delivery(sessions).state == "delivered"


@both_stores
def test_two_senders_deliver_once(sessions, receiver):
    graded(sessions, receiver.url + "/hook")
    senders = [sender(sessions), sender(sessions)]
    counts: list[int] = []
    gate = threading.Barrier(2)

    def run(one: DeliverySender) -> None:
        gate.wait()
        counts.append(one.deliver_due())

    threads = [threading.Thread(target=run, args=(one,)) for one in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for one in senders:
        one.stop()
    assert sorted(counts) == [0, 1]
    assert len(receiver.deliveries) == 1
    assert the_delivery(sessions).state == "delivered"


def test_connection_refused_is_retried(sessions, secret):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    graded(sessions, f"http://127.0.0.1:{port}/hook")
    one = sender(sessions, delivery_timeout_s=5.0)
    try:
        assert one.deliver_due() == 1
    finally:
        one.stop()
    row = the_delivery(sessions)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert "ConnectError" in (row.last_error or "")


def test_report_goes_in_a_standard_envelope(sessions, receiver):
    sub_id = graded(sessions, receiver.url + "/hook")
    one = sender(sessions)
    try:
        one.deliver_due()
    finally:
        one.stop()
    [got] = receiver.wait_for(1)
    event = got.json()
    assert got.verified and event["type"] == "submission.graded"
    assert event["timestamp"].endswith("Z")
    assert event["data"]["id"] == sub_id and event["data"]["report"] == REPORT
