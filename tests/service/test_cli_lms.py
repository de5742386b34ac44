"""`grader lms ...`: secrets printed once, never listed; operator mistakes are one error line; a
deleted client verifies nothing and owes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import standardwebhooks
from sqlalchemy import select

from grader.cli.app import main
from grader.service.db import Delivery, LmsClient
from tests.service.conftest import InProcess
from tests.service.test_lms import lms_body


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def store_then_error(err: str) -> str:
    """The one `error:` line of a command refused by the store, after its `store:` line."""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("store: "), err
    assert lines[1].startswith("error: "), err
    return lines[1]


def test_add_rotate_retire_list(capsys, db):
    code, first, _ = run(capsys, "lms", "add", "canvas", "--callback-host", "LMS.edu", "--db", db)
    assert code == 0 and first.startswith("whsec_")
    code, second, _ = run(capsys, "lms", "rotate", "canvas", "--db", db)
    assert code == 0 and second.startswith("whsec_") and second != first
    code, listing, _ = run(capsys, "lms", "list", "--json", "--db", db)
    [client] = json.loads(listing)
    assert client["callback_hosts"] == ["lms.edu"] and len(client["secret_ids"]) == 2
    assert first not in listing and second not in listing
    assert run(capsys, "lms", "retire", "canvas", "--db", db)[0] == 0
    assert (
        len(json.loads(run(capsys, "lms", "list", "--json", "--db", db)[1])[0]["secret_ids"]) == 1
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lms", "rotate", "moodle"], "no LMS client named 'moodle'"),
        (["lms", "add", "canvas", "--callback-host", "x.edu"], "exists"),
        (["lms", "add", "other", "--callback-host", "https://x.edu/cb"], "not a host name"),
        (["lms", "add", "other"], "at least one --callback-host"),
    ],
    ids=["unknown", "duplicate", "url-not-host", "no-host"],
)
def test_mistakes_are_one_error_line_exit_2(capsys, db, argv, message):
    assert run(capsys, "lms", "add", "canvas", "--callback-host", "lms.edu", "--db", db)[0] == 0
    code, _, err = run(capsys, *argv, "--db", db)
    assert code == 2
    assert message in store_then_error(err)


def test_hosts_replaces_the_callback_hosts(capsys, db):
    assert run(capsys, "lms", "add", "canvas", "--callback-host", "old.edu", "--db", db)[0] == 0
    argv = ["lms", "hosts", "canvas", "--callback-host", "B.edu:8443", "--callback-host", "a.edu"]
    code, out, err = run(capsys, *argv, "--db", db)
    assert (code, out) == (0, "canvas: callbacks to: a.edu, b.edu:8443"), err
    [client] = json.loads(run(capsys, "lms", "list", "--json", "--db", db)[1])
    assert client["callback_hosts"] == ["a.edu", "b.edu:8443"]
    code, _, err = run(capsys, "lms", "hosts", "canvas", "--callback-host", "http://x/", "--db", db)
    assert code == 2 and "not a host name" in store_then_error(err)
    assert run(capsys, "lms", "hosts", "canvas", "--db", db)[0] == 2  # none: still needs one
    [client] = json.loads(run(capsys, "lms", "list", "--json", "--db", db)[1])
    assert client["callback_hosts"] == ["a.edu", "b.edu:8443"]


def test_delete_stops_verifying_frees_the_name_and_fails_pending_deliveries(
    capsys, make_app: Callable[..., InProcess]
):
    app = make_app(grading="inline")
    db = app.db_url
    code, secret, _ = run(capsys, "lms", "add", "canvas", "--callback-host", "lms.edu", "--db", db)
    assert code == 0
    body = lms_body("https://lms.edu/cb")
    accepted = post_signed(app, secret, body)
    assert accepted.status_code == 202, accepted.text
    with app.sessions() as session:
        [delivery] = session.scalars(select(Delivery))
        assert delivery.state == "pending"

    code, out, err = run(capsys, "lms", "delete", "canvas", "--db", db)
    assert code == 0 and "1 pending delivery(ies) marked failed" in out, err
    with app.sessions() as session:
        [delivery] = session.scalars(select(Delivery))
        assert (delivery.state, delivery.last_error) == ("failed", "LMS client deleted")
        [client] = session.scalars(select(LmsClient))
        assert client.deleted_at is not None and client.name != "canvas"
    assert post_signed(app, secret, lms_body("https://lms.edu/cb")).status_code == 401
    assert json.loads(run(capsys, "lms", "list", "--json", "--db", db)[1]) == []
    code, _, err = run(capsys, "lms", "rotate", "canvas", "--db", db)
    assert code == 2 and "no LMS client named 'canvas'" in err
    code, fresh, _ = run(capsys, "lms", "add", "canvas", "--callback-host", "lms.edu", "--db", db)
    assert code == 0 and fresh != secret  # the name is free again, with a new secret
    assert post_signed(app, fresh, lms_body("https://lms.edu/cb")).status_code == 202
    assert post_signed(app, secret, lms_body("https://lms.edu/cb")).status_code == 401


def post_signed(app: InProcess, secret: str, body: dict[str, object]) -> httpx.Response:
    """POST to the LMS route as an LMS would, signed with the reference package."""
    raw = json.dumps(body)
    msg_id = f"msg_{uuid.uuid4().hex}"
    stamp = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret).sign(msg_id, stamp, raw),
    }
    return app.client.post("/v1/lms/submissions", content=raw, headers=headers)
