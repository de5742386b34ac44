"""Shared fixtures: a clean grader environment for every test; no silent green under `make ci`."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

#: `make ci` sets GRADER_TEST_STRICT=1: a test that would skip because something the CI host
#: promises is missing (the sandbox runtime, the Docker engine or image, Redis, PostgreSQL or
#: RabbitMQ: tests/service/conftest.py skips with the reason) fails instead.
#: Only tests that need a GPU may still skip there. Read once here: tests never see GRADER_*.
STRICT = os.environ.get("GRADER_TEST_STRICT") == "1"
MAY_SKIP = re.compile(r"\bGPU\b|nvidia|CUDA", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _clean_grader_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the operator's GRADER_* settings (httpx's conftest does the same)."""
    for name in list(os.environ):
        if name.startswith("GRADER_"):
            monkeypatch.delenv(name)
    # `grader check` would start the user's daemon (grader/daemon/); tests/grader/test_daemon.py
    # turns it on under a private GRADER_HOME.
    monkeypatch.setenv("GRADER_DAEMON", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr)
        if not MAY_SKIP.search(reason):
            report.outcome = "failed"
            report.longrepr = f"skipped under GRADER_TEST_STRICT=1 (make ci): {reason}"


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in process (`grader worker`, `grader serve`) configures the root logger
    (grader/service/logs.py); put it back, so no later test's output carries its lines."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store as `grader serve` leaves it (the operator commands refuse one not there)."""
    from grader.service.db import open_store

    url = f"sqlite:///{tmp_path / 'grader.db'}"
    open_store(url).kw["bind"].dispose()
    return url
