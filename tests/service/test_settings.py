"""The service's settings: one validated object composing the grader's; bad values are errors
naming the variable (exit 2), never a silent default or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from grader.bank import load_bank
from grader.cli.app import main
from grader.errors import BadInput
from grader.ops.loopback import write_bank
from grader.service.celery_app import visibility_timeout
from grader.service.intake import CHOICE_CHARS, checked_submission
from grader.service.settings import ServiceSettings
from grader.service.store import NewSubmission


def test_settings_compose_the_grader_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_BACKEND", "docker")
    monkeypatch.setenv("GRADER_MAX_UPLOAD", "2048")
    settings = ServiceSettings()
    assert (settings.backend, settings.grader.backend) == ("docker", "docker")
    assert settings.max_upload_bytes == 2048


def test_only_grader_prefixed_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_UPLOAD", "5")
    monkeypatch.setenv("WEBHOOK_TOLERANCE", "1")
    settings = ServiceSettings()
    assert (settings.max_upload_bytes, settings.webhook_tolerance_s) == (1024 * 1024, 300)


@pytest.mark.parametrize(
    ("name", "value"),
    [("GRADER_WORKERS", "two"), ("GRADER_BACKEND", "podman"), ("GRADER_RETRY_SCALE", "-1")],
)
def test_a_bad_value_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        ServiceSettings()


def test_a_bad_visibility_timeout_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_VISIBILITY_TIMEOUT", "abc")
    with pytest.raises(ValidationError):
        visibility_timeout()


def test_a_bad_concurrency_is_exit_2_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADER_CONCURRENCY", "x")
    assert main(["worker", "--broker", "redis://127.0.0.1:1/0"]) == 2
    assert "GRADER_CONCURRENCY='x'" in capsys.readouterr().err
    assert main(["list"]) == 0  # other commands are untouched by a worker's setting


def test_an_answer_longer_than_the_store_keeps_is_refused(tmp_path: Path) -> None:
    bank = load_bank([write_bank(tmp_path / "bank")])
    new = NewSubmission(question="quick", student="s", choice="B" * (CHOICE_CHARS + 1))
    with pytest.raises(BadInput, match=f"at most {CHOICE_CHARS} characters"):
        checked_submission(bank, new)
