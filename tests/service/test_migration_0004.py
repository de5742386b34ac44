"""Migration 0004 (token roles and expiry, report versions) on a store written before it: the
graded work becomes version 1 with its history, and the way back keeps the reports and refuses
every token the older schema could not hold back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from grader.service import tokens
from grader.service.db import alembic_config, make_engine, open_store
from grader.service.versions import history
from tests.service.conftest import StoreUrl, both_stores

pytestmark = both_stores

REPORT = {"question": "q", "status": "passed", "verdict": "PASSED", "score": 1.0, "max_score": 1.0}


@pytest.fixture
def at_0003(store_url: StoreUrl) -> str:
    """A store at 0003 holding a student's token, a graded submission whose callback is owed, and
    a queued one."""
    url = store_url(blank=True)
    command.upgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO tokens (token_hash, student, course, created_at) "
                "VALUES (:hash, 'alice', 'c1', 1.0)"
            ),
            {"hash": tokens.token_hash("gt_alice")},
        )
        db.execute(
            text(
                "INSERT INTO lms_clients (name, callback_hosts, created_at) "
                "VALUES ('lms', '[]', 1.0)"
            )
        )
        for sub, status, report in [("sub_done", "done", REPORT), ("sub_wait", "queued", None)]:
            db.execute(
                text(
                    "INSERT INTO submissions (id, question, student, queue, status, attempts, "
                    "report, verdict, created_at, finished_at, gradings, client_id, callback_url) "
                    "VALUES (:id, 'q', 'alice', 'cpu', :status, 1, :report, :verdict, 10.0, "
                    ":finished, :gradings, 1, 'http://lms.example/hook')"
                ),
                {
                    "id": sub,
                    "status": status,
                    "report": json.dumps(report) if report else None,
                    "verdict": report["verdict"] if report else None,
                    "finished": 20.0 if report else None,
                    "gradings": 1 if report else 0,
                },
            )
        db.execute(
            text(
                "INSERT INTO deliveries (submission_id, client_id, url, webhook_id, state, "
                "attempts, next_attempt_at) VALUES ('sub_done', 1, 'http://lms.example/hook', "
                "'msg_1', 'pending', 0, 20.0)"
            )
        )
    engine.dispose()
    return url


def rows(url: str, query: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(text(query))]
    finally:
        engine.dispose()


def stored_json(value: Any) -> Any:
    """A JSON column read with plain SQL: text on SQLite, already parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def test_graded_work_becomes_version_1_with_one_history_row(at_0003):
    url = at_0003
    sessions = open_store(url)  # upgrades to head, as `grader serve` does
    try:
        with sessions() as session:
            [version] = history(session, "sub_done")
            assert (version.version, version.change, version.by, version.reason) == (
                1,
                "graded",
                "grader",
                None,
            )
            assert (version.report, version.created_at) == (REPORT, 20.0)
            assert history(session, "sub_wait") == []
            token = tokens.find_token(session, "gt_alice")
            assert token is not None and tokens.usable(token, 10**10)
            assert (token.role, token.expires_at, token.revoked_at) == ("student", None, None)
    finally:
        sessions.kw["bind"].dispose()
    found = rows(url, "SELECT id, version, fingerprint, regrade_by FROM submissions ORDER BY id")
    assert found == [
        {"id": "sub_done", "version": 1, "fingerprint": None, "regrade_by": None},
        {"id": "sub_wait", "version": 0, "fingerprint": None, "regrade_by": None},
    ]
    assert rows(url, "SELECT webhook_id, version FROM deliveries") == [
        {"webhook_id": "msg_1", "version": 1}
    ]


def test_downgrade_keeps_the_reports_and_drops_the_tokens_it_cannot_hold_back(at_0003):
    url = at_0003
    sessions = open_store(url)
    try:
        with sessions() as session:
            tokens.create_token(session, "prof", "c1", role=tokens.INSTRUCTOR)
            tokens.create_token(session, "bob", "c1", expires_at=10**10)
            tokens.create_token(session, "carol", "c1")
            assert tokens.revoke(session, student="carol") == 1
    finally:
        sessions.kw["bind"].dispose()
    command.downgrade(alembic_config(url), "0003")
    engine = make_engine(url)
    names = inspect(engine).get_table_names()
    engine.dispose()
    assert "report_versions" not in names and "submissions" in names
    assert rows(url, "SELECT student FROM tokens") == [{"student": "alice"}]
    [done] = rows(url, "SELECT report, status FROM submissions WHERE id = 'sub_done'")
    assert (stored_json(done["report"]), done["status"]) == (REPORT, "done")
    command.upgrade(alembic_config(url), "head")
    assert rows(url, "SELECT submission_id, version FROM report_versions") == [
        {"submission_id": "sub_done", "version": 1}
    ]
    assert rows(url, "SELECT version FROM submissions WHERE id = 'sub_done'") == [{"version": 1}]
