"""The launch, end to end over loopback HTTP against the fake platform: a valid launch opens the
item page with the iframe cookies; each rule of the id_token check refuses with its own reason."""

from __future__ import annotations

from html import unescape

import httpx
import pytest

from grader.lti import claims as c
from tests.lti.conftest import MCQ, Browser, set_cookies
from tests.lti.platform import LaunchSpec, Misbehave


@pytest.fixture(autouse=True)
def _an_item(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(custom={"item": MCQ})


def _refused(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert words in unescape(response.text), response.text
    assert "Traceback" not in response.text


def test_a_launch_shows_the_item_with_iframe_cookies(browser: Browser) -> None:
    login = browser.login()
    [(name, state_cookie)] = set_cookies(login).items()
    assert name.startswith("lti_state_")
    for attribute in ("Secure", "HttpOnly", "SameSite=none", "Partitioned", "Path=/lti/launch"):
        assert attribute.lower() in state_cookie.lower(), state_cookie
    response = browser.post_launch(*browser.authorize(login))
    assert response.status_code == 200, response.text
    assert "ResNet" in response.text or "resnet" in response.text.lower()
    assert 'name="choice"' in response.text
    session_cookie = set_cookies(response)["lti_session"]
    assert "partitioned" in session_cookie.lower() and "samesite=none" in session_cookie.lower()
    policy = response.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {browser.platform.url}" in policy
    assert "x-frame-options" not in response.headers


def test_a_replayed_launch_is_refused(browser: Browser) -> None:
    action, fields = browser.authorize(browser.login())
    kept = dict(browser.cookies)  # what a replayer captured: the form and the state cookie
    launched = browser.post_launch(action, fields)
    assert launched.status_code == 200
    assert not any(name.startswith("lti_state_") for name in browser.cookies)  # spent
    browser.cookies = kept
    _refused(browser.post_launch(action, fields), 401, "nonce already used")


def test_a_launch_without_the_state_cookie_is_refused(browser: Browser) -> None:
    action, fields = browser.authorize(browser.login())
    browser.cookies.clear()
    _refused(browser.post_launch(action, fields), 401, "no state cookie")


def test_a_launch_with_another_state_is_refused(browser: Browser) -> None:
    action, fields = browser.authorize(browser.login())
    _refused(browser.post_launch(action, fields | {"state": "forged"}), 401, "no state cookie")


@pytest.mark.parametrize(
    ("misbehave", "status", "words"),
    [
        (Misbehave(aud="someone-else"), 401, "aud does not hold"),
        (Misbehave(aud=["tool-client-1", "other"]), 401, "azp None"),
        (Misbehave(aud=["tool-client-1", "other"], azp="other"), 401, "azp 'other'"),
        (Misbehave(exp_offset_s=-120), 401, "expired"),
        (Misbehave(exp_offset_s=-61, iat_offset_s=-400), 401, "expired"),
        (Misbehave(iat_offset_s=120, exp_offset_s=600), 401, "in the future"),
        (Misbehave(deployment="unknown-deployment"), 403, "deployment"),
        (Misbehave(nonce="another-nonce"), 401, "nonce is not"),
        (Misbehave(foreign_key=True), 401, "is not in the platform's JWKS"),
        (Misbehave(message_type="LtiSubmissionReviewRequest"), 400, "message type"),
        (Misbehave(version="1.1"), 400, "LTI version"),
    ],
    ids=[
        "wrong-aud",
        "several-aud-no-azp",
        "several-aud-wrong-azp",
        "expired",
        "expired-beyond-skew",
        "iat-in-the-future",
        "unknown-deployment",
        "wrong-nonce",
        "unknown-key",
        "message-type",
        "version",
    ],
)
def test_a_bad_id_token_is_refused_with_its_reason(
    browser: Browser, misbehave: Misbehave, status: int, words: str
) -> None:
    browser.platform.misbehave = misbehave
    _refused(browser.launch(), status, words)


@pytest.mark.parametrize(
    "misbehave",
    [
        Misbehave(exp_offset_s=-30),
        Misbehave(iat_offset_s=30, exp_offset_s=300),
        Misbehave(aud=["tool-client-1", "other"], azp="tool-client-1"),
    ],
    ids=["expired-within-skew", "iat-ahead-within-skew", "several-aud-with-azp"],
)
def test_what_the_rules_allow_is_accepted(browser: Browser, misbehave: Misbehave) -> None:
    browser.platform.misbehave = misbehave
    response = browser.launch()
    assert response.status_code == 200, response.text


def test_the_skew_allowance_is_a_setting(make_tool, platform) -> None:
    tool = make_tool(clock_skew=5)
    browser = Browser(tool, platform)
    platform.next_launch = LaunchSpec(custom={"item": MCQ})
    platform.misbehave = Misbehave(exp_offset_s=-30)
    with browser.client:
        _refused(browser.launch(), 401, "expired")


def test_a_rotated_platform_key_is_fetched_once_and_accepted(browser: Browser) -> None:
    assert browser.launch().status_code == 200  # the tool caches the platform's JWKS
    browser.platform.rotate()  # the next id_token names a kid the cache lacks
    assert browser.launch().status_code == 200


def test_a_login_from_an_unknown_platform_is_refused(browser: Browser) -> None:
    _refused(browser.login(iss="https://elsewhere.example"), 403, "no LTI registration")
    _refused(browser.login(target_link_uri="https://evil.example/x"), 403, "target_link_uri")
    response = browser.client.get(f"{browser.tool.url}/lti/login", params={"iss": "x"})
    _refused(response, 400, "missing login_hint, target_link_uri")


def test_a_login_may_be_posted(browser: Browser) -> None:
    form = {
        "iss": browser.platform.issuer,
        "login_hint": "h",
        "target_link_uri": f"{browser.tool.url}/lti/item",
    }
    response = browser.client.post(f"{browser.tool.url}/lti/login", data=form)
    assert response.status_code == 302
    assert response.headers["location"].startswith(f"{browser.platform.url}/auth?")


def test_a_launch_naming_no_item_is_refused(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(custom={})
    _refused(browser.launch(), 400, "names no item")


def test_our_jwks_lists_the_current_and_previous_key(browser: Browser) -> None:
    from grader.lti import keys

    first = browser.client.get(f"{browser.tool.url}/lti/jwks").json()["keys"]
    with browser.tool.sessions() as session:
        kid = keys.rotate(session)
        keys.rotate(session)
    published = browser.client.get(f"{browser.tool.url}/lti/jwks").json()["keys"]
    assert len(first) == 1 and len(published) == 2
    assert kid in [key["kid"] for key in published]
    assert first[0]["kid"] not in [key["kid"] for key in published]
    assert all(key["kty"] == "RSA" and "d" not in key for key in published)


def test_claim_names_are_the_specs() -> None:
    assert c.MESSAGE_TYPE == "https://purl.imsglobal.org/spec/lti/claim/message_type"


def test_two_launches_under_way_in_one_browser_both_pass(browser: Browser) -> None:
    first = browser.authorize(browser.login())
    second = browser.authorize(browser.login())  # a second tool frame on the same LMS page
    assert browser.post_launch(*second).status_code == 200
    assert browser.post_launch(*first).status_code == 200


def test_made_up_key_ids_fetch_the_platforms_jwks_once(browser: Browser) -> None:
    fetched = []
    browser.platform.app.middleware("http")(_count_jwks(fetched))
    assert browser.launch().status_code == 200
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        browser.platform.misbehave = Misbehave(kid=kid)
        _refused(browser.launch(), 401, f"key {kid!r} is not in the platform's JWKS")
    assert len(fetched) == 2  # the first launch's, then one refetch for all the made-up ids


def _count_jwks(fetched: list[str]):
    async def count(request, call_next):
        if request.url.path == "/jwks":
            fetched.append(request.url.path)
        return await call_next(request)

    return count


def test_login_initiations_from_one_address_are_rate_limited(
    make_tool, platform, monkeypatch
) -> None:
    monkeypatch.setenv("GRADER_LTI_LOGIN_BURST", "3")
    monkeypatch.setenv("GRADER_LTI_LOGIN_RATE", "0.01")
    tool = make_tool()
    with httpx.Client() as client:
        browser = Browser(tool, platform, client)
        codes = [browser.login().status_code for _ in range(4)]
        refused = browser.login()
    assert codes[:3] == [302, 302, 302] and codes[3] == 429
    assert int(refused.headers["retry-after"]) >= 1 and "too many" in refused.text
