"""Deep Linking 2.0 against the fake platform: an instructor picks an item, the platform gets a
signed LtiDeepLinkingResponse (verified with our JWKS) with an ltiResourceLink: an assignment's
item with a line item carrying its points, a practice item with none; a learner cannot
deep-link, and a forged choice is refused."""

from __future__ import annotations

import re
from html import unescape

import pytest

from grader.lti import claims as c
from tests.lti.conftest import MCQ, WEEK, Browser, Tool, form_fields
from tests.lti.platform import LaunchSpec

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"


@pytest.fixture
def tool(graded_tool: Tool) -> Tool:
    """These tests launch into `WEEK`: the tool's catalog holds it."""
    return graded_tool


@pytest.fixture(autouse=True)
def _deep_linking(browser: Browser) -> None:
    browser.platform.next_launch = LaunchSpec(
        sub="prof-1", roles=[INSTRUCTOR], message_type=c.DEEP_LINKING_REQUEST
    )


def _choice(html: str, item: str, assignment: str = "") -> dict[str, str]:
    for form in re.findall(r"<form.*?</form>", html, flags=re.S):
        _, fields = form_fields(form)
        if fields.get("item") == item and fields.get("assignment", "") == assignment:
            return fields
    raise AssertionError(f"{item} ({assignment or 'practice'}) is not offered")


def _returned(browser: Browser, fields: dict[str, str]) -> dict:
    response = browser.post("/lti/deep-link", data=fields)
    assert response.status_code == 200, response.text
    action, posted = form_fields(response.text)
    assert browser.client.post(action, data=posted).status_code == 200
    [link] = browser.platform.deep_link_returns[-1][CONTENT_ITEMS]
    return link


def test_an_assignment_item_is_linked_with_its_points_and_practice_without_a_line_item(
    browser: Browser,
) -> None:
    picker = browser.launch()
    graded = _returned(browser, _choice(picker.text, MCQ, WEEK))
    assert graded["custom"] == {"item": MCQ, "assignment": WEEK}
    assert graded["lineItem"]["scoreMaximum"] == 1.0
    practice = _returned(browser, _choice(picker.text, MCQ))
    assert practice["custom"] == {"item": MCQ} and "lineItem" not in practice


def test_an_instructor_links_an_item(browser: Browser) -> None:
    picker = browser.launch()
    assert picker.status_code == 200, picker.text
    response = browser.post("/lti/deep-link", data=_choice(picker.text, MCQ))
    assert response.status_code == 200, response.text
    action, fields = form_fields(response.text)
    assert action == f"{browser.platform.url}/deep-link-return"
    policy = response.headers["content-security-policy"]
    assert f"form-action 'self' {browser.platform.url}" in policy and "script-src 'nonce-" in policy
    returned = browser.client.post(action, data=fields)
    assert returned.status_code == 200, returned.text
    [message] = browser.platform.deep_link_returns
    assert message[c.MESSAGE_TYPE] == "LtiDeepLinkingResponse"
    assert message["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-data-1"
    [link] = message[CONTENT_ITEMS]
    assert link["type"] == "ltiResourceLink" and link["custom"] == {"item": MCQ}
    assert link["url"] == f"{browser.tool.url}/lti/item"


def test_a_learner_cannot_deep_link(browser: Browser) -> None:
    browser.platform.next_launch.roles = [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    ]
    response = browser.launch()
    assert response.status_code == 403 and "only an instructor" in unescape(response.text)


def test_a_forged_choice_is_refused(browser: Browser) -> None:
    picker = browser.launch()
    fields = _choice(picker.text, MCQ) | {"context": "forged"}
    response = browser.post("/lti/deep-link", data=fields)
    assert response.status_code == 401 and "not ours" in unescape(response.text)
    fields = _choice(picker.text, MCQ) | {"item": "no-such-item"}
    assert browser.post("/lti/deep-link", data=fields).status_code == 400
