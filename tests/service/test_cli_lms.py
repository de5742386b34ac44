"""`grader lms ...`: secrets printed once, never listed; operator mistakes are one error line."""

from __future__ import annotations

import json

import pytest

from grader.cli.app import main


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'grader.db'}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


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
    assert err.startswith("error: ") and message in err and "\n" not in err
