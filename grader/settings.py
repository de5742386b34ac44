"""The grader's settings: one object, read from `GRADER_*` variables once and validated.

| variable | meaning | default |
|---|---|---|
| GRADER_BACKEND | the sandbox backend: `process` or `docker` | process |
| GRADER_BANK | the question bank folder | ./questions if it exists, else <home>/questions |
| GRADER_SOLUTIONS | reference and wrong solutions, per item | <home>/solutions |
| GRADER_ASSIGNMENTS | the course's assignments (`<id>.yaml`) | <home>/assignments |
| GRADER_CACHE | reference observations, snippet outputs, the seed key | <home>/.cache |
| GRADER_SELFTEST_VARIANTS | seeds `grader selftest` proves each varying item on | 20 |
| (the sandbox's own) | runtime, weights, images, warm pools: `sandbox/settings.py` | |

<home> is `$GRADER_HOME`, else the checkout the package runs from, else the working directory
(`sandbox.settings.grader_home`). The service and the worker compose this object
(`ServiceSettings.grader`); a command-line flag overrides its variable. A value that does not
parse is an error naming the variable (`settings_error`), never a silent default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandbox.home import grader_home
from sandbox.settings import SandboxSettings

Backend = Literal["process", "docker"]
DEFAULT_BACKEND: Backend = "process"


def _default_bank() -> Path:
    local = Path.cwd() / "questions"
    return local if local.is_dir() else grader_home() / "questions"


class GraderSettings(BaseSettings):
    """Where the bank, solutions and caches are, and which sandbox grades."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", frozen=True, extra="ignore")

    backend: Backend = DEFAULT_BACKEND
    bank: Path = Field(default_factory=_default_bank)
    solutions: Path = Field(default_factory=lambda: grader_home() / "solutions")
    assignments: Path = Field(default_factory=lambda: grader_home() / "assignments")
    cache: Path = Field(default_factory=lambda: grader_home() / ".cache")
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    #: Seeds 0..N-1 of every varying item are proven by `grader selftest` (`--variants N`).
    selftest_variants: int = Field(default=20, ge=1)

    @property
    def reference_cache(self) -> Path:
        return self.cache / "reference"

    @property
    def snippet_cache(self) -> Path:
        return self.cache / "snippets"


def with_flags(bank: Path | None = None, backend: str | None = None) -> GraderSettings:
    """The settings, with a command's `--bank` and `--backend` over their variables."""
    given: dict[str, Any] = {"bank": bank, "backend": backend}
    return GraderSettings(**{name: value for name, value in given.items() if value})


def settings_error(exc: ValidationError) -> str:
    """One line naming the variable and what is wrong with its value."""
    parts = []
    for error in exc.errors():
        name = "GRADER_" + "_".join(str(part) for part in error["loc"]).upper()
        parts.append(f"{name}={error.get('input')!r}: {error['msg']}")
    return "bad setting: " + "; ".join(parts)
