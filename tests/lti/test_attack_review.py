"""What the attack review of the LTI tool side (issue 20) found, each as the behaviour that now
holds, and what held already (algorithm confusion, kid/jku tricks, the nonce race, raw claims).
Run: .venv/bin/pytest -q -p no:cacheprovider tests/lti/test_attack_review.py
"""

from __future__ import annotations

import re
import threading
import time
from html import unescape
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select

from grader.lti import registrations
from grader.lti.claims import AGS_ENDPOINT as AGS
from grader.service.db import Delivery, LtiLink, Submission
from tests.lti.conftest import MCQ, WEEK, Browser, registration, student_of
from tests.lti.loopback import Served
from tests.lti.platform import FakePlatform, LaunchSpec, new_key
from tests.lti.test_scores import submit


def _check(page_text: str) -> str:
    found = re.search(r'name="check" value="([^"]+)"', page_text)
    assert found, page_text[:400]
    return found.group(1)


# -- 1. the new-window link carries no session: it starts a login of its own -------------------


def _relaunch_link(page_text: str) -> str:
    found = re.search(r'<a href="([^"]+)" target="_blank"', page_text)
    assert found, page_text[:400]
    return unescape(found.group(1))


def test_a_new_window_link_cannot_log_someone_else_into_the_launchers_session(
    graded_tool, platform: FakePlatform
) -> None:
    """The attacker launches, copies the 'Open in a new window' link and sends it to a
    classmate. The link is our login initiation, not a session: the classmate's browser gets a
    login of its own (a new state), no session, and a launch only as whoever the platform
    signs in there; nothing the classmate does is stored as the attacker's."""
    tool = graded_tool
    platform.next_launch = LaunchSpec(sub="attacker", custom={"item": MCQ, "assignment": WEEK})
    with httpx.Client() as a, httpx.Client() as v:
        attacker = Browser(tool, platform, a)
        page = attacker.launch()
        assert "Signed in as attacker in Transfer learning" in page.text
        link = _relaunch_link(page.text)
        assert urlsplit(link).path == "/lti/login" and "ticket" not in link
        victim = Browser(tool, platform, v)  # never launched anything
        login = victim.client.get(link)
        victim._keep(login)
        assert login.status_code == 302 and "lti_session" not in victim.cookies
        assert victim.get("/lti/item").status_code == 401
        assert victim.get("/lti/resume?ticket=x").status_code == 404
        platform.next_launch = LaunchSpec(sub="victim", custom={"item": MCQ, "assignment": WEEK})
        mine = victim.post_launch(*victim.authorize(login))
        assert "Signed in as victim in Transfer learning" in mine.text
        victim.post("/lti/submit", data={"check": _check(mine.text), "choice": "B"})
    with tool.sessions() as session:
        students = set(session.scalars(select(Submission.student)))
    assert students == {student_of(platform, "victim")}


# -- 2. a student is named by issuer and sub: two platforms' users never collide ---------------


def test_the_same_sub_on_another_platform_is_another_student(tool, platform: FakePlatform) -> None:
    """Two LMSs registered for one course (or both with no course): `sub` is unique per issuer
    only (Moodle's subs are small integers), yet it is used bare as the student id."""
    other = FakePlatform().start()
    try:
        with tool.sessions() as session:
            second = registration(other)
            second = registrations.NewRegistration(**(second.__dict__ | {"name": "other-lms"}))
            registrations.add(session, second)
        other.tool_jwks_url = f"{tool.url}/lti/jwks"
        platform.next_launch = LaunchSpec(sub="17", custom={"item": MCQ})
        other.next_launch = LaunchSpec(sub="17", custom={"item": MCQ})
        with httpx.Client() as a, httpx.Client() as b:
            alice = Browser(tool, platform, a)
            mine = submit(alice, "A")
            mallory = Browser(tool, other, b)
            assert mallory.launch().status_code == 200
            seen = mallory.get(f"/lti/submissions/{mine}")
        assert seen.status_code == 404, "platform B's user 17 reads platform A's user 17's report"
    finally:
        other.stop()


# -- 3. scores go only to the platform's own hosts, checked at launch and at send time --------


class _Internal:
    """A service on loopback that is not the platform (an admin API, a metadata endpoint)."""

    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/{path:path}")
        async def anything(path: str, request: Request) -> Response:
            with self.lock:
                self.hits.append({"path": path, "auth": request.headers.get("authorization")})
            return Response(status_code=204)

        self.served = Served(app)


def test_a_line_item_on_another_host_is_refused_at_launch(
    graded_tool, platform: FakePlatform
) -> None:
    """The line item URL comes from the id_token, and scores go there with the platform's
    bearer token: a URL that is not https on one of the registration's hosts (127.0.0.1 on
    another port here: an internal service) refuses the launch, naming why."""
    tool = graded_tool
    internal = _Internal()
    try:
        platform.next_launch = LaunchSpec(
            sub="student-1",
            custom={"item": MCQ, "assignment": WEEK},
            lineitem=f"{internal.served.url}/internal/admin/lineitems/1?type=quiz",
        )
        with httpx.Client() as client:
            response = Browser(tool, platform, client).launch()
        assert response.status_code == 400 and "line item refused" in unescape(response.text)
        assert not internal.hits
    finally:
        internal.served.stop()


def test_a_score_is_not_sent_to_a_line_item_off_the_platforms_hosts(
    graded_tool, platform: FakePlatform
) -> None:
    """Checked again when the score is sent: a link whose line item is not the platform's
    (written before a registration changed, or by hand) fails its delivery and posts nothing."""
    tool = graded_tool
    internal = _Internal()
    try:
        platform.next_launch = LaunchSpec(
            sub="student-1",
            custom={"item": MCQ, "assignment": WEEK},
            lineitem=platform.lineitem_url(1),
        )
        tool.sender.stop()
        with httpx.Client() as client:
            submitted = submit(Browser(tool, platform, client), "B")
        with tool.sessions() as session:
            link = session.get(LtiLink, submitted)
            assert link is not None
            link.lineitem = f"{internal.served.url}/lineitems/1"
            session.commit()
        tool.sender.deliver_due()
        with tool.sessions() as session:
            delivery = session.scalar(select(Delivery).where(Delivery.submission_id == submitted))
        assert delivery is not None and delivery.state == "failed"
        assert "line item refused" in (delivery.last_error or "")
        assert not internal.hits and not platform.scores
    finally:
        internal.served.stop()


# -- 4. practice posts no score: unlimited tries cannot end at full marks in a gradebook ------


def test_a_practice_launch_posts_no_score_even_with_a_line_item(
    tool, platform: FakePlatform
) -> None:
    """Practice has no attempt limit, so a graded column would end at full marks by trying the
    options in turn: a launch without an assignment owes no score, whatever line item the
    platform sends, and its page says so."""
    platform.next_launch = LaunchSpec(
        sub="student-2", custom={"item": MCQ}, lineitem=platform.lineitem_url(1)
    )
    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        assert "not sent to the LMS gradebook" in browser.launch().text
        for choice in "ACDB":
            submit(browser, choice)
    time.sleep(0.5)  # the sender polls every 0.05 s
    with tool.sessions() as session:
        assert session.scalar(select(Delivery)) is None
    assert platform.scores == []


def test_a_score_is_owed_only_when_the_platform_granted_the_score_scope(
    graded_tool, platform: FakePlatform
) -> None:
    tool = graded_tool
    platform.next_launch = LaunchSpec(
        sub="student-2", custom={"item": MCQ, "assignment": WEEK}, lineitem=platform.lineitem_url(1)
    )
    key = platform.keys[0]

    def no_score_scope(body: dict[str, Any], header: dict[str, Any]) -> str:
        body[AGS]["scope"] = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"]
        return jwt.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid})

    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        page = _forge(browser, no_score_scope)
        assert page.status_code == 200 and "not sent to the LMS gradebook" in page.text
        browser.post("/lti/submit", data={"check": _check(page.text), "choice": "B"})
    with tool.sessions() as session:
        assert session.scalar(select(Delivery)) is None


# -- 5. the unsigned Origin header does not choose who may frame ------------------------------


def test_the_launch_origin_header_does_not_choose_who_may_frame(
    tool, platform: FakePlatform
) -> None:
    """The request's Origin header is not signed: whoever posts the launch (the student with
    curl) chooses it. frame-ancestors come from the registration and the signed return URL
    only, each rebuilt from its parsed parts."""
    platform.next_launch = LaunchSpec(sub="student-3", custom={"item": MCQ})
    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        action, fields = browser.authorize(browser.login())
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        headers = {"cookie": cookie, "origin": "https://evil.example; script-src *"}
        response = client.post(action, data=fields, headers=headers)
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    assert "evil.example" not in policy, policy


# -- 6. a deep-link choice is limited to the registration's course ----------------------------


def test_a_deep_link_choice_is_limited_to_the_registrations_course(make_tool, platform) -> None:
    from datetime import UTC, datetime, timedelta

    from grader.courses.catalog import Catalog
    from grader.models.assignment import Assignment

    now = datetime.now(UTC)
    other = Assignment.model_validate(
        {
            "schema_version": 1,
            "id": "secret-exam",
            "title": "Another course's final exam",
            "course": "tl-202",
            "opens": (now + timedelta(days=10)).isoformat(),
            "due": (now + timedelta(days=11)).isoformat(),
            "items": [{"id": MCQ, "points": 40}],
        }
    )
    tool = make_tool(catalog=Catalog(assignments={"secret-exam": other}))
    platform.next_launch = LaunchSpec(
        sub="teacher-1",
        roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
        message_type="LtiDeepLinkingRequest",
    )
    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        picker = browser.launch()
        assert picker.status_code == 200, picker.text
        assert "secret-exam" not in picker.text  # the picker hides it...
        context = re.search(r'name="context" value="([^"]+)"', picker.text)
        assert context
        forged = browser.post(
            "/lti/deep-link",
            data={"context": unescape(context.group(1)), "item": MCQ, "assignment": "secret-exam"},
        )
    assert forged.status_code != 200, "...but signs a link to another course's assignment"


# -- what held: algorithm confusion, kid/jku tricks, nonce race ---------------------------------

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac as _hmac  # noqa: E402
import json  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_jwt(header: dict[str, Any], body: dict[str, Any], secret: bytes | None) -> str:
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    if secret is None:
        return signing + "."
    return signing + "." + _b64(_hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def _forge(browser: Browser, make_token) -> httpx.Response:
    login = browser.login()
    query = parse_qs(urlsplit(login.headers["location"]).query)
    nonce, state = query["nonce"][0], query["state"][0]
    good = browser.platform.id_token(nonce, query["redirect_uri"][0])
    body = jwt.decode(good, options={"verify_signature": False})
    token = make_token(body, jwt.get_unverified_header(good))
    return browser.post_launch(
        f"{browser.tool.url}/lti/launch", {"id_token": token, "state": state}
    )


def test_held_alg_none_and_hs256_with_the_public_key(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(custom={"item": MCQ})
    public = browser.platform.keys[0].private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = browser.platform.keys[0].kid
    for header, secret in [
        ({"alg": "none", "kid": kid}, None),
        ({"alg": "HS256", "kid": kid}, pem),
        ({"alg": "RS256", "kid": kid, "jku": "http://127.0.0.1:1/jwks"}, pem),
        ({"alg": "RS256", "kid": "../../etc/passwd"}, pem),
    ]:
        response = _forge(browser, lambda body, _h, h=header, s=secret: _raw_jwt(h, body, s))
        assert response.status_code in (400, 401), (header, response.text)
        assert "lti_session" not in browser.cookies


def test_held_two_posts_of_one_launch_at_once(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(custom={"item": MCQ})
    action, fields = browser.authorize(browser.login())
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())

    def post(_: int) -> int:
        with httpx.Client(timeout=30) as client:
            return client.post(action, data=fields, headers={"cookie": cookie}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(8)))
    assert sorted(codes).count(200) == 1, codes


# -- 7. only the LMS contexts the registration allows launch into its course -------------------


def test_a_launch_from_another_lms_course_is_not_a_student_of_this_course(
    browser: Browser,
) -> None:
    """A registration is often installed account-wide (Canvas): a launch from an LMS context
    the admin did not allow is refused, naming the command that allows it; once allowed, it
    launches. Deep Linking goes through the same check."""
    browser.platform.next_launch = LaunchSpec(sub="outsider", custom={"item": MCQ})
    key = browser.platform.keys[0]

    def elsewhere(body: dict[str, Any], header: dict[str, Any]) -> str:
        body["https://purl.imsglobal.org/spec/lti/claim/context"] = {
            "id": "unrelated-course-99",
            "title": "Someone's sandbox",
        }
        return jwt.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid})

    response = _forge(browser, elsewhere)
    assert response.status_code == 403, "a launch from an unrelated LMS context got a session"
    assert "grader lti allow-context fake-lms unrelated-course-99" in unescape(response.text)
    with browser.tool.sessions() as session:
        registrations.allow_context(session, "fake-lms", "unrelated-course-99")
    assert _forge(browser, elsewhere).status_code == 200


def test_a_deep_linking_launch_from_another_lms_course_is_refused(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(
        sub="teacher-2",
        roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
        message_type="LtiDeepLinkingRequest",
    )
    key = browser.platform.keys[0]

    def elsewhere(body: dict[str, Any], header: dict[str, Any]) -> str:
        body["https://purl.imsglobal.org/spec/lti/claim/context"] = {"id": "their-sandbox"}
        return jwt.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid})

    assert _forge(browser, elsewhere).status_code == 403


# -- 8. a failing JWKS is remembered with a backoff; `refresh-keys` drops a removed key --------


def test_a_failing_jwks_is_not_fetched_on_every_launch(browser: Browser) -> None:
    """While a platform's JWKS errors, its failure is answered from memory (5 s, doubling),
    not fetched again for each (forged) launch; each JWKS URL has a lock of its own."""
    from grader.service.db import LtiRegistration

    hits: list[int] = []
    app = FastAPI()

    @app.get("/jwks")
    def down() -> Response:
        hits.append(1)
        return Response(status_code=503)

    served = Served(app)
    try:
        with browser.tool.sessions() as session:
            row = session.scalar(select(LtiRegistration))
            assert row is not None
            row.jwks_url = f"{served.url}/jwks"
            session.commit()
        browser.platform.next_launch = LaunchSpec(custom={"item": MCQ})
        for _ in range(6):
            _forge(browser, lambda body, h: _raw_jwt({"alg": "RS256", "kid": "x"}, body, b"k"))
        assert len(hits) <= 2, f"{len(hits)} JWKS fetches for 6 launches"
    finally:
        served.stop()


def test_held_claims_are_not_reflected_raw(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(custom={"item": "<script>alert(1)</script>"})
    response = browser.launch()
    assert response.status_code >= 400
    assert "<script>alert" not in response.text
    assert "default-src 'none'" in response.headers.get("content-security-policy", "")


def test_refresh_keys_makes_a_removed_platform_key_stop_verifying(browser: Browser) -> None:
    """A key the platform removed stays cached for the JWKS TTL; `grader lti refresh-keys`
    marks the registration's keys stale, and the next launch fetches them again."""
    from grader.cli.app import main

    browser.platform.next_launch = LaunchSpec(custom={"item": MCQ})
    old = browser.platform.keys[0]
    assert browser.launch().status_code == 200  # the old key is cached
    browser.platform.keys = [new_key()]  # removed from the platform's JWKS

    def signed_with_old(body: dict[str, Any], header: dict[str, Any]) -> str:
        return jwt.encode(body, old.private, algorithm="RS256", headers={"kid": old.kid})

    assert _forge(browser, signed_with_old).status_code == 200  # still cached
    code = main(["lti", "refresh-keys", browser.platform.issuer, "--db", browser.tool.db_url])
    assert code == 0
    refused = _forge(browser, signed_with_old)
    assert refused.status_code == 401 and "not in the platform's JWKS" in unescape(refused.text)
    assert browser.launch().status_code == 200  # the current key verifies
