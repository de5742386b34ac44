"""Fixtures for the LTI tests: a fake platform and the course server (the tool), both served for
real on loopback, registered with each other; a `Browser` that carries the tool's cookies by hand
(httpx keeps `Secure` cookies off plain-HTTP loopback URLs, a browser on localhost does not)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank, load_bank
from grader.courses.catalog import Catalog
from grader.lti import identity, registrations
from grader.models.assignment import Assignment
from grader.service.app import create_app
from grader.service.db import open_store
from grader.service.deliveries import DeliverySender
from grader.service.settings import ServiceSettings
from grader.service.state import ServiceState
from tests.lti.loopback import Served
from tests.lti.platform import CLIENT_ID, DEPLOYMENT, FakePlatform
from tests.support.inline import InlineGrading

MCQ = "resnet18-output-shape"
#: An open assignment of tl-101 (`open_catalog`, the `graded_tool` fixture): graded launches,
#: the only ones that post scores, name it; unlimited attempts, the last counts.
WEEK = "week-1"


def open_catalog() -> Catalog:
    now = datetime.now(UTC)
    week = Assignment.model_validate(
        {
            "schema_version": 1,
            "id": WEEK,
            "title": "Week 1",
            "course": "tl-101",
            "opens": (now - timedelta(days=1)).isoformat(),
            "due": (now + timedelta(days=1)).isoformat(),
            "attempts": "unlimited",
            "counts": "last",
            "items": [{"id": MCQ, "points": 1}],
        }
    )
    return Catalog(assignments={WEEK: week})


def student_of(platform: FakePlatform, sub: str) -> str:
    """The server's student id of the platform's user `sub`."""
    return identity.student_id(platform.issuer, sub)


@dataclass
class Tool:
    """The course server as an LTI tool: its URL, state and delivery sender."""

    url: str
    state: ServiceState
    db_url: str
    sender: DeliverySender

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.state.sessions


@pytest.fixture(scope="session")
def bank() -> Bank:
    return load_bank()


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    found = FakePlatform().start()
    yield found
    found.stop()


@pytest.fixture
def make_tool(
    platform: FakePlatform, tmp_path: Path, bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Tool]]:
    """`make_tool(clock_skew=60, catalog=None, **settings)`: the server, registered with the
    platform and serving; it stops after the test."""
    with ExitStack() as stack:
        made: list[Tool] = []

        def make(clock_skew: int = 60, catalog: Catalog | None = None, **settings: Any) -> Tool:
            monkeypatch.setenv("GRADER_LTI_CLOCK_SKEW", str(clock_skew))
            db_url = f"sqlite:///{tmp_path / f'grader-{len(made)}.db'}"
            config = ServiceSettings(db_url=db_url, retry_scale=0.001, **settings)
            sessions = open_store(db_url)
            stack.callback(sessions.kw["bind"].dispose)
            state = ServiceState(
                config, sessions, bank, InlineGrading(sessions, bank), catalog or Catalog()
            )
            sender = DeliverySender(sessions, config, poll_s=0.05, courses=state)
            sender.start()
            stack.callback(sender.stop)
            app = create_app(state)
            stack.callback(app.state.lti.platform_keys.close)
            served = Served(app)
            stack.callback(served.stop)
            with sessions() as session:
                registrations.add(session, registration(platform))
            platform.tool_jwks_url = f"{served.url}/lti/jwks"
            made.append(Tool(served.url, state, db_url, sender))
            return made[-1]

        yield make


@pytest.fixture
def tool(make_tool: Callable[..., Tool]) -> Tool:
    return make_tool()


@pytest.fixture
def graded_tool(make_tool: Callable[..., Tool]) -> Tool:
    """A tool whose catalog holds `WEEK` (which guards MCQ: practice of it is closed there)."""
    return make_tool(catalog=open_catalog())


def registration(
    platform: FakePlatform, course: str | None = "tl-101"
) -> registrations.NewRegistration:
    return registrations.NewRegistration(
        name="fake-lms",
        issuer=platform.issuer,
        client_id=CLIENT_ID,
        deployment_ids=[DEPLOYMENT],
        auth_login_url=f"{platform.url}/auth",
        auth_token_url=f"{platform.url}/token",
        jwks_url=f"{platform.url}/jwks",
        course=course,
        contexts=["course-7"],
        allow_http_loopback=True,  # the fake platform serves plain http on 127.0.0.1
    )


FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def form_fields(html: str) -> tuple[str, dict[str, str]]:
    """A page's first form: its action and hidden fields."""
    action = ACTION.search(html)
    assert action, html[:500]
    return unescape(action.group(1)), {k: unescape(v) for k, v in FIELD.findall(html)}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """The Set-Cookie headers of a response, by name, each its whole header value."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        found[name] = header
    return found


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


@dataclass
class Browser:
    """A user agent for the launch flow: follows the platform's pages, carries the tool's
    cookies, and can drop them (a browser blocking third-party cookies)."""

    tool: Tool
    platform: FakePlatform
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    cookies: dict[str, str] = field(default_factory=dict)

    def login(self, **params: str) -> httpx.Response:
        query = {
            "iss": self.platform.issuer,
            "login_hint": "hint-1",
            "target_link_uri": f"{self.tool.url}/lti/item",
            "client_id": CLIENT_ID,
            "lti_message_hint": "message-1",
        } | params
        response = self.client.get(f"{self.tool.url}/lti/login", params=query)
        self._keep(response)
        return response

    def authorize(self, login: httpx.Response) -> tuple[str, dict[str, str]]:
        """The platform's answer to the login's redirect: the launch form's action and fields."""
        assert login.status_code == 302, login.text
        page = self.client.get(login.headers["location"])
        assert page.status_code == 200, page.text
        return form_fields(page.text)

    def post_launch(self, action: str, fields: dict[str, str]) -> httpx.Response:
        response = self.client.post(action, data=fields, headers=self._cookie_header())
        self._keep(response)
        return response

    def launch(self, **params: str) -> httpx.Response:
        return self.post_launch(*self.authorize(self.login(**params)))

    def get(self, path: str) -> httpx.Response:
        response = self.client.get(f"{self.tool.url}{path}", headers=self._cookie_header())
        self._keep(response)
        return response

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.post(
            f"{self.tool.url}{path}", headers=self._cookie_header(), **kwargs
        )
        self._keep(response)
        return response

    def _keep(self, response: httpx.Response) -> None:
        for name, header in set_cookies(response).items():
            if "max-age=0;" in header.lower():
                self.cookies.pop(name, None)  # deleted, as a browser deletes it
            else:
                self.cookies[name] = cookie_value(header)

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}


@pytest.fixture
def browser(tool: Tool, platform: FakePlatform) -> Iterator[Browser]:
    found = Browser(tool, platform)
    yield found
    found.client.close()
