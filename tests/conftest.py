"""Shared fixtures: a clean grader environment for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_grader_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the operator's GRADER_* settings (httpx's conftest does the same)."""
    for name in list(os.environ):
        if name.startswith("GRADER_"):
            monkeypatch.delenv(name)
