"""Deliveries the operator can see and send again: listed and filtered, re-armed by id or by state
(pending, attempts from 0, the same `webhook-id`), then really sent by the sender; the
`grader lms deliveries|redeliver` commands on a store of their own; the figures on /metrics."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.cli.app import main
from grader.errors import BadInput
from grader.service import delivery_admin, lms_clients, store
from grader.service.db import Delivery, open_store
from grader.service.deliveries import DeliverySender
from grader.service.settings import ServiceSettings
from tests.service.conftest import InProcess
from tests.support.receiver import Receiver, Reply

REPORT = {"question": "q", "status": "passed", "verdict": "PASSED", "score": 1, "max_score": 1}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'grader.db'}"


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    factory = open_store(db_url)
    yield factory
    factory.kw["bind"].dispose()


@pytest.fixture
def receiver(sessions) -> Iterator[Receiver]:
    with sessions() as session:
        canvas = lms_clients.add_client(session, "canvas", ["127.0.0.1"])
        moodle = lms_clients.add_client(session, "moodle", ["127.0.0.1"])
    with Receiver(canvas, moodle) as lms:
        yield lms


def owed(sessions, client: str, url: str) -> str:
    """A graded submission of `client` whose report is owed to `url`; its id."""
    with sessions() as session:
        client_id = lms_clients.get_client(session, client).id
        new = store.NewSubmission(
            question="q", student="s", choice="A", client_id=client_id, callback_url=url
        )
        row = store.add_submission(session, new)
        session.commit()
        assert store.finish(session, row.id, REPORT)
        return row.id


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_due(sessions) -> int:
    """One pass of a sender, as the server's runs every half second."""
    sender = DeliverySender(sessions, ServiceSettings(delivery_timeout_s=5.0))
    try:
        return sender.deliver_due()
    finally:
        sender.stop()


def deliveries(sessions) -> dict[str, Delivery]:
    """Every delivery, by its submission's id."""
    with sessions() as session:
        return {row.submission_id: row for row in session.scalars(select(Delivery))}


@pytest.fixture
def three(sessions, receiver: Receiver) -> dict[str, str]:
    """Canvas: one delivered, one failed (410); moodle: one pending after a refused connection."""
    receiver.script(Reply(200), Reply(410))
    made = {
        "delivered": owed(sessions, "canvas", receiver.url + "/a"),
        "failed": owed(sessions, "canvas", receiver.url + "/b"),
        "pending": owed(sessions, "moodle", f"http://127.0.0.1:{closed_port()}/c"),
    }
    assert send_due(sessions) == 3
    states = {sub: row.state for sub, row in deliveries(sessions).items()}
    assert states == {sub: state for state, sub in made.items()}
    return made


def test_list_newest_first_with_filters(sessions, three: dict[str, str]) -> None:
    with sessions() as session:
        rows = delivery_admin.list_deliveries(session)
        assert [row.submission for row in rows] == [
            three["pending"],
            three["failed"],
            three["delivered"],
        ]
        pending = rows[0]
        assert (pending.client, pending.state, pending.attempts) == ("moodle", "pending", 1)
        assert "ConnectError" in (pending.last_error or "") and pending.next_attempt_at
        assert rows[1].last_status == 410 and rows[1].next_attempt_at is None
        canvas = delivery_admin.list_deliveries(session, client="canvas")
        assert {row.state for row in canvas} == {"delivered", "failed"}
        failed = delivery_admin.list_deliveries(session, state="failed")
        assert [row.submission for row in failed] == [three["failed"]]
        assert len(delivery_admin.list_deliveries(session, limit=1)) == 1
        with pytest.raises(BadInput, match="no LMS client named 'blackboard'"):
            delivery_admin.list_deliveries(session, client="blackboard")


def test_redeliver_by_id_rearms_with_the_same_webhook_id_and_the_sender_sends_it(
    sessions, receiver: Receiver, three: dict[str, str]
) -> None:
    before = deliveries(sessions)[three["failed"]]
    first = receiver.wait_for(2)[1]
    with sessions() as session:
        assert delivery_admin.redeliver(session, [before.id]) == 1
    after = deliveries(sessions)[three["failed"]]
    assert (after.state, after.attempts, after.webhook_id) == ("pending", 0, before.webhook_id)
    assert after.next_attempt_at <= time.time() and after.version == before.version
    assert send_due(sessions) == 1  # only it: the moodle one waits for its retry
    again = receiver.wait_for(3)[2]
    assert again.verified and again.path == "/b"
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == before.webhook_id
    assert deliveries(sessions)[three["failed"]].state == "delivered"


def test_redeliver_failed_and_pending_of_a_client(sessions, three: dict[str, str]) -> None:
    with sessions() as session:
        assert delivery_admin.redeliver(session, states=["failed"], client="moodle") == 0
        assert delivery_admin.redeliver(session, states=["failed"]) == 1
        assert delivery_admin.redeliver(session, states=["pending"], client="moodle") == 1
    rows = deliveries(sessions)
    assert rows[three["failed"]].state == "pending" and rows[three["failed"]].attempts == 0
    assert rows[three["pending"]].next_attempt_at <= time.time()
    assert rows[three["pending"]].attempts == 0
    assert rows[three["delivered"]].state == "delivered"


def test_a_delivered_one_needs_force(sessions, three: dict[str, str]) -> None:
    delivered = deliveries(sessions)[three["delivered"]]
    with sessions() as session:
        with pytest.raises(BadInput, match="was delivered \\(HTTP 200\\); --force"):
            delivery_admin.redeliver(session, [delivered.id])
        assert deliveries(sessions)[three["delivered"]].state == "delivered"
        assert delivery_admin.redeliver(session, [delivered.id], force=True) == 1
    row = deliveries(sessions)[three["delivered"]]
    assert (row.state, row.delivered_at, row.webhook_id) == ("pending", None, delivered.webhook_id)


def test_a_deleted_client_s_deliveries_are_not_rearmed(sessions, three: dict[str, str]) -> None:
    with sessions() as session:
        assert lms_clients.delete_client(session, "moodle") == 1
        pending = deliveries(sessions)[three["pending"]]
        assert pending.state == "failed"
        assert delivery_admin.redeliver(session, states=["failed"]) == 1  # canvas's only
        with pytest.raises(BadInput, match="was deleted"):
            delivery_admin.redeliver(session, [pending.id])
    assert deliveries(sessions)[three["pending"]].state == "failed"


@pytest.mark.parametrize(
    ("ids", "states", "client", "force", "message"),
    [
        ((), (), None, False, "name the deliveries"),
        ((1,), ("failed",), None, False, "name the deliveries"),
        ((1,), (), "canvas", False, "--client narrows"),
        ((), ("failed",), None, True, "--force re-sends delivered ones named by id"),
        ((99,), (), None, False, "no delivery 99"),
    ],
    ids=["nothing", "ids-and-state", "ids-and-client", "force-by-state", "unknown-id"],
)
def test_redeliver_mistakes(sessions, three, ids, states, client, force, message) -> None:
    with sessions() as session, pytest.raises(BadInput, match=message):
        delivery_admin.redeliver(session, ids, states, client, force=force)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands(capsys, db_url: str, sessions, three: dict[str, str]) -> None:
    with sessions() as session:  # a receiver's words are shown on one line, without controls
        session.execute(
            update(Delivery)
            .where(Delivery.submission_id == three["failed"])
            .values(last_error="HTTP 410\n\x1b[31mgone" + "x" * 100)
        )
        session.commit()
    code, out, err = run(capsys, "lms", "deliveries", "--db", db_url)
    assert code == 0 and err == f"store: {db_url} (from --db)\n"
    header, *lines = out.splitlines()
    assert header.split() == [
        "id", "client", "submission", "version", "state", "attempts", "last", "next", "attempt",
    ]  # fmt: skip
    assert [line.split()[4] for line in lines] == ["pending", "failed", "delivered"]
    assert "HTTP 410 ?[31mgonexxx" in lines[1] and lines[1].rstrip().endswith("...  -")
    assert "HTTP 200" in lines[2] and "ConnectError" in lines[0]

    code, out, _ = run(capsys, "lms", "deliveries", "--failed", "--json", "--db", db_url)
    [failed] = json.loads(out)
    assert (failed["submission"], failed["state"], failed["next_attempt_at"]) == (
        three["failed"],
        "failed",
        None,
    )
    code, out, _ = run(
        capsys, "lms", "deliveries", "--client", "moodle", "--pending", "--db", db_url
    )
    assert code == 0 and len(out.splitlines()) == 2 and "moodle" in out

    code, out, _ = run(capsys, "lms", "redeliver", str(failed["id"]), "--db", db_url)
    assert code == 0 and out.startswith("re-armed 1 delivery(ies)")
    assert deliveries(sessions)[three["failed"]].state == "pending"
    code, out, _ = run(
        capsys, "lms", "redeliver", "--pending", "--client", "canvas", "--db", db_url
    )
    assert code == 0 and out.startswith("re-armed 1 delivery(ies)")

    code, _, err = run(capsys, "lms", "redeliver", "--client", "canvas", "--db", db_url)
    assert code == 2 and err.startswith("error: name the deliveries")  # before the store: no line
    delivered = deliveries(sessions)[three["delivered"]].id
    code, _, err = run(capsys, "lms", "redeliver", str(delivered), "--db", db_url)
    assert code == 2 and err.splitlines()[-1].endswith("--force sends it again")


def test_no_deliveries(capsys, db_url: str, sessions) -> None:
    code, out, _ = run(capsys, "lms", "deliveries", "--db", db_url)
    assert (code, out) == (0, "no deliveries\n")


def metric(text: str, name: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])


def test_metrics_count_deliveries_and_the_retry_age(make_app: Callable[..., InProcess]) -> None:
    app = make_app(grading="inline")  # nothing sends: the states are set here
    page = app.client.get("/metrics").text
    assert metric(page, 'grader_deliveries{state="pending"}') == 0
    assert metric(page, "grader_delivery_retry_age_seconds") == 0
    with app.sessions() as session:
        lms_clients.add_client(session, "canvas", ["127.0.0.1"])
    subs = [owed(app.sessions, "canvas", f"http://127.0.0.1:9/{i}") for i in range(3)]
    with app.sessions() as session:
        states = {subs[0]: "delivered", subs[1]: "failed"}
        for sub, state in states.items():
            session.execute(
                update(Delivery).where(Delivery.submission_id == sub).values(state=state)
            )
        due = time.time() - 120  # the pending one fell due two minutes ago: a stuck sender
        session.execute(
            update(Delivery).where(Delivery.submission_id == subs[2]).values(next_attempt_at=due)
        )
        session.commit()
    page = app.client.get("/metrics").text
    for state in ("pending", "delivered", "failed"):
        assert metric(page, f'grader_deliveries{{state="{state}"}}') == 1, state
    assert 120 <= metric(page, "grader_delivery_retry_age_seconds") < 180


def test_metrics_show_how_long_each_queue_has_waited(make_app: Callable[..., InProcess]) -> None:
    app = make_app(grading="inline")
    page = app.client.get("/metrics").text
    assert metric(page, 'grader_queue_wait_seconds{queue="cpu"}') == 0
    with app.sessions() as session:
        new = store.NewSubmission(question="finetuning-purpose", student="ann", choice="A")
        row = store.add_submission(session, new)
        row.created_at = time.time() - 90  # queued a minute and a half ago, nobody grading
        session.commit()
    page = app.client.get("/metrics").text
    assert 90 <= metric(page, 'grader_queue_wait_seconds{queue="cpu"}') < 150
    assert metric(page, 'grader_queue_wait_seconds{queue="gpu"}') == 0
