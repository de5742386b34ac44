"""`grader lti ...` on the store the server uses: register a platform and print the admin's
values, list, allow an LMS context, refresh a platform's keys, rotate our key, remove; operator
mistakes are one `error:` line, exit 2."""

from __future__ import annotations

import json

from grader.service.db import LtiKey, open_store
from tests.service.test_cli_lms import run

PLATFORM = [
    "--issuer", "https://canvas.instructure.com",
    "--client-id", "10000000000001",
    "--deployment", "1:abc",
    "--login-url", "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--token-url", "https://sso.canvaslms.com/login/oauth2/token",
    "--jwks-url", "https://sso.canvaslms.com/api/lti/security/jwks",
]  # fmt: skip


def test_add_prints_the_values_an_admin_enters(capsys, db) -> None:
    base = "https://grader.example.edu"
    code, out, _ = run(capsys, "lti", "add", "canvas", *PLATFORM, "--base-url", base, "--db", db)
    assert code == 0, out
    assert f"login initiation URL: {base}/lti/login" in out
    assert f"{base}/lti/launch" in out and f"{base}/lti/jwks" in out
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in out
    code, listing, _ = run(capsys, "lti", "list", "--json", "--db", db)
    [row] = json.loads(listing)
    assert row["client_id"] == "10000000000001" and row["deployment_ids"] == ["1:abc"]


def test_a_second_registration_of_the_same_client_is_refused(capsys, db) -> None:
    assert run(capsys, "lti", "add", "canvas", *PLATFORM, "--db", db)[0] == 0
    code, _, err = run(capsys, "lti", "add", "canvas-2", *PLATFORM, "--db", db)
    assert code == 2 and err.splitlines()[-1].startswith("error: ") and "already" in err


def test_a_bad_url_is_one_error_line(capsys, db) -> None:
    argv = [*PLATFORM[:-1], "not-a-url"]
    code, _, err = run(capsys, "lti", "add", "canvas", *argv, "--db", db)
    assert code == 2 and "jwks-url" in err and "Traceback" not in err


def test_rotate_key_and_remove(capsys, db) -> None:
    assert run(capsys, "lti", "add", "canvas", *PLATFORM, "--db", db)[0] == 0
    code, out, _ = run(capsys, "lti", "rotate-key", "--db", db)
    assert code == 0 and out.startswith("new signing key")
    sessions = open_store(db)
    with sessions() as session:
        assert session.query(LtiKey).count() == 2  # the first, made on use, and the new one
    sessions.kw["bind"].dispose()
    assert run(capsys, "lti", "remove", "canvas", "--db", db)[0] == 0
    code, out, _ = run(capsys, "lti", "list", "--db", db)
    assert out.endswith("no LTI registrations")
    code, _, err = run(capsys, "lti", "remove", "canvas", "--db", db)
    assert code == 2 and "no LTI registration named" in err


def test_values_needs_a_base_url(capsys) -> None:
    code, _, err = run(capsys, "lti", "values")
    assert code == 2 and "--base-url" in err
    code, out, _ = run(capsys, "lti", "values", "--base-url", "https://g.example")
    assert code == 0 and "https://g.example/lti/login" in out


def test_contexts_are_given_at_add_and_allowed_later(capsys, db) -> None:
    code, out, _ = run(capsys, "lti", "add", "canvas", *PLATFORM, "--db", db)
    assert code == 0 and "every launch is refused" in out and "allow-context canvas ID" in out
    code, out, _ = run(capsys, "lti", "allow-context", "canvas", "course-7", "--db", db)
    assert code == 0 and "now accepts" in out
    code, out, _ = run(capsys, "lti", "allow-context", "canvas", "course-7", "--db", db)
    assert code == 0 and "already accepted" in out
    argv = ["--context", "c-1", "--service-host", "school.instructure.com", "--db", db]
    assert (
        run(
            capsys,
            "lti",
            "add",
            "canvas-2",
            *PLATFORM[:2],
            "--client-id",
            "2",
            *PLATFORM[4:],
            *argv,
        )[0]
        == 0
    )
    code, listing, _ = run(capsys, "lti", "list", "--json", "--db", db)
    rows = {row["name"]: row for row in json.loads(listing)}
    assert rows["canvas"]["contexts"] == ["course-7"] and rows["canvas-2"]["contexts"] == ["c-1"]
    assert rows["canvas-2"]["service_hosts"] == ["school.instructure.com"]
    assert not rows["canvas"]["any_context"] and not rows["canvas"]["allow_http_loopback"]


def test_refresh_keys_marks_the_platforms_keys_stale(capsys, db) -> None:
    assert run(capsys, "lti", "add", "canvas", *PLATFORM, "--any-context", "--db", db)[0] == 0
    code, out, _ = run(capsys, "lti", "refresh-keys", "https://canvas.instructure.com", "--db", db)
    assert code == 0 and out.startswith("1 registration(s)")
    code, out, _ = run(capsys, "lti", "refresh-keys", "https://other.example", "--db", db)
    assert code == 0 and out.startswith("0 registration(s)")
