"""The rules a claim's URL and a student's name follow, without a platform: where our bearer
token may go (grader/lti/endpoints.py), how an LTI user is named (grader/lti/identity.py), and
what an origin in a CSP header may be (grader/lti/frames.py)."""

from __future__ import annotations

import pytest

from grader.lti import endpoints, identity
from grader.lti.frames import origin
from grader.service.db import LtiRegistration


def _registration(**changes: object) -> LtiRegistration:
    fields: dict[str, object] = {
        "name": "canvas",
        "issuer": "https://canvas.instructure.com",
        "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
        "jwks_url": "https://sso.canvaslms.com/api/lti/security/jwks",
        "service_hosts": ["school.instructure.com"],
        "allow_http_loopback": False,
    }
    return LtiRegistration(**(fields | changes))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sso.canvaslms.com/api/lti/courses/7/line_items/1", True),
        ("https://SSO.canvaslms.com:443/x", True),
        ("https://school.instructure.com/api/lti/courses/7/line_items/1", True),
        ("http://sso.canvaslms.com/x", False),
        ("https://sso.canvaslms.com:8443/x", False),
        ("https://evil.example/x", False),
        ("https://sso.canvaslms.com@evil.example/x", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:8080/admin", False),
        ("file:///etc/passwd", False),
        ("https://sso.canvaslms.com:99999/x", False),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_service_url_must_be_https_on_a_host_of_the_registration(url: str, allowed: bool) -> None:
    assert (endpoints.refusal(_registration(), url) is None) is allowed


def test_plain_http_passes_only_to_loopback_and_only_when_the_registration_says_so() -> None:
    local = _registration(
        issuer="http://127.0.0.1:9000",
        auth_login_url="http://127.0.0.1:9000/auth",
        auth_token_url="http://127.0.0.1:9000/token",
        jwks_url="http://127.0.0.1:9000/jwks",
        service_hosts=[],
    )
    assert "not https" in (endpoints.refusal(local, "http://127.0.0.1:9000/li/1") or "")
    local.allow_http_loopback = True
    assert endpoints.refusal(local, "http://127.0.0.1:9000/li/1") is None
    assert endpoints.refusal(local, "http://127.0.0.1:9001/li/1") is not None


def test_a_student_is_named_by_issuer_and_sub() -> None:
    a = identity.student_id("https://moodle.a.example", "17")
    b = identity.student_id("https://moodle.b.example", "17")
    assert a != b and a.startswith("lti-") and a.endswith("-17")
    assert a == identity.student_id("https://moodle.a.example", "17")
    long = identity.student_id("https://moodle.a.example", "x" * 255)
    assert len(long) <= identity.MAX_CHARS and long != identity.student_id("https://a", "y" * 255)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://lms.example/courses/7?x=1", "https://lms.example"),
        ("https://LMS.example:8443/", "https://lms.example:8443"),
        ("https://evil.example; script-src *", None),
        ("https://a.example'/x", None),
        ("javascript:alert(1)", None),
        ("https://user@lms.example/", None),
        (None, None),
    ],
)
def test_an_origin_is_rebuilt_from_its_parsed_parts(url: str | None, expected: str | None) -> None:
    assert origin(url) == expected
