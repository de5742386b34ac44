"""NRPS: `grader lti roster` reads a course's membership page by page (Link headers) with a
client-credentials token, and imports learners as student tokens and instructors as instructor
tokens, named as a launch names them (`lti-<issuer hash>-<user id>`, grader/lti/identity.py);
a second import creates nothing."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from grader.cli.app import main
from grader.service.db import Token
from tests.lti.conftest import Tool, student_of
from tests.lti.platform import FakePlatform

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def test_the_roster_is_read_across_pages_and_imported(
    capsys, tool: Tool, platform: FakePlatform
) -> None:
    platform.members = [
        {"user_id": f"learner-{i}", "roles": [LEARNER], "status": "Active"} for i in range(5)
    ]
    platform.members += [
        {"user_id": "prof-1", "roles": [INSTRUCTOR]},
        {"user_id": "gone-1", "roles": [LEARNER], "status": "Inactive"},
    ]  # 7 members, 2 a page: 4 pages
    url = f"{platform.url}/courses/7/memberships?limit=2"
    code = main(["lti", "roster", "fake-lms", "--memberships-url", url, "--db", tool.db_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    named = [(student_of(platform, f"learner-{i}"), "student") for i in range(5)]
    named.append((student_of(platform, "prof-1"), "instructor"))
    assert sorted((r["name"], r["role"]) for r in rows) == sorted(named)
    assert "6 member(s) in 4 page(s)" in err
    with tool.sessions() as session:
        held = session.execute(select(Token.student, Token.course, Token.role)).all()
    assert (student_of(platform, "learner-3"), "tl-101", "student") in held
    assert (student_of(platform, "prof-1"), "tl-101", "instructor") in held
    code = main(["lti", "roster", "fake-lms", "--memberships-url", url, "--db", tool.db_url])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == "name,role,token" and "created 0 token(s)" in err


def test_a_roster_without_a_token_is_one_error_line(capsys, tool: Tool, platform) -> None:
    platform.tool_jwks_url = f"{platform.url}/nowhere"  # the platform cannot verify our assertion
    url = f"{platform.url}/courses/7/memberships"
    code = main(["lti", "roster", "fake-lms", "--memberships-url", url, "--db", tool.db_url])
    _, err = capsys.readouterr()
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: roster: no access token")
