"""Service configuration, from the command line or `GRADER_*` environment variables.

`ServiceSettings` composes the grader's own settings (`grader.settings.GraderSettings`: backend,
bank, solutions, caches, sandboxes) and adds what only `grader serve` and `grader worker` read.
A value that does not parse is an error naming the variable, never a silent default.
"""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.settings import GraderSettings

DEFAULT_DB_URL = "sqlite:///grader.db"

# Standard Webhooks' retry schedule, in seconds after the previous attempt: now, 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 10 h. Tests shrink it with GRADER_RETRY_SCALE.
RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def db_url(given: str | None = None) -> str:
    """The store's SQLAlchemy URL: `--db`, else $GRADER_DB_URL, else ./grader.db (SQLite)."""
    return given or os.environ.get("GRADER_DB_URL") or DEFAULT_DB_URL


class ServiceSettings(BaseSettings):
    """Everything `grader serve` and `grader worker` read; each has a GRADER_* variable."""

    model_config = SettingsConfigDict(
        env_prefix="GRADER_", frozen=True, extra="ignore", populate_by_name=True
    )

    grader: GraderSettings = Field(default_factory=GraderSettings)
    #: Celery's visibility timeout, seconds; unset: longer than the bank's longest job.
    visibility_timeout: float | None = Field(default=None, gt=0)
    db_url: str = DEFAULT_DB_URL
    broker_url: str | None = None
    workers: int = Field(default=2, ge=1)
    max_upload_bytes: int = Field(default=1024 * 1024, gt=0, validation_alias="GRADER_MAX_UPLOAD")
    student_rate: float = Field(default=1.0, gt=0)
    student_burst: int = Field(default=10, ge=1)
    client_rate: float = Field(default=20.0, gt=0)
    client_burst: int = Field(default=200, ge=1)
    webhook_tolerance_s: int = Field(default=300, gt=0, validation_alias="GRADER_WEBHOOK_TOLERANCE")
    retry_scale: float = Field(default=1.0, ge=0)
    delivery_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="GRADER_DELIVERY_TIMEOUT"
    )

    @property
    def backend(self) -> str:
        return self.grader.backend

    def retry_delays(self) -> list[float]:
        return [delay * self.retry_scale for delay in RETRY_SCHEDULE]
