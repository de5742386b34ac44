"""Where `grader submit` finds its server and token: flag, then environment, then config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.cli.client import resolve_config
from grader.errors import BadInput


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('server = "http://file:1/"\ntoken = "from-file"\n')
    monkeypatch.setenv("GRADER_CONFIG", str(path))
    return path


def test_flags_win_over_environment_and_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_TOKEN", "from-env")
    assert resolve_config("http://flag:1", "from-flag") == ("http://flag:1", "from-flag")


def test_environment_wins_over_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_TOKEN", "from-env")
    assert resolve_config(None, None) == ("http://file:1", "from-env")


def test_file_fills_what_is_missing(config: Path) -> None:
    assert resolve_config("http://flag:1", None) == ("http://flag:1", "from-file")


@pytest.mark.parametrize(
    ("text", "needle"),
    [("token = 'x'\n", "no server"), ("server = 'http://s'\n", "no token"), ("= broken", "TOML")],
    ids=["no-server", "no-token", "malformed"],
)
def test_missing_or_broken_settings_are_bad_input(config: Path, text: str, needle: str) -> None:
    config.write_text(text)
    with pytest.raises(BadInput, match=needle):
        resolve_config(None, None)
