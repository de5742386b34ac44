"""Service configuration, from the command line or `GRADER_*` environment variables.

`ServiceSettings` composes the grader's own settings (`grader.settings.GraderSettings`: backend,
bank, solutions, caches, sandboxes) and adds what only `grader serve` and `grader worker` read.
A value that does not parse is an error naming the variable, never a silent default.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.config_file import config_file, read_config
from grader.errors import BadInput
from grader.settings import GraderSettings
from sandbox.home import grader_home

# Standard Webhooks' retry schedule, in seconds after the previous attempt: now, 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h, 10 h. Tests shrink it with GRADER_RETRY_SCALE.
RETRY_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def db_url(given: str | None = None) -> str:
    """The store's SQLAlchemy URL; `db_source` says where it is found."""
    return db_source(given)[0]


def db_source(given: str | None = None) -> tuple[str, str]:
    """The store's URL and where it came from, first found wins: `--db`, $GRADER_DB_URL, `db` in
    the config file, else `default_db_url()`. Every command that opens the store asks here, so
    the server and the operator's commands find the same one."""
    if given:
        return given, "--db"
    if os.environ.get("GRADER_DB_URL"):
        return os.environ["GRADER_DB_URL"], "GRADER_DB_URL"
    configured = read_config().get("db")
    if configured is None:
        return default_db_url(), "default"
    if not isinstance(configured, str) or not configured.strip():
        raise BadInput(f"{config_file()}: `db` must be a SQLAlchemy URL string (sqlite:///PATH)")
    return configured, f"`db` in {config_file()}"


def default_db_url() -> str:
    """SQLite at <home>/grader.db (`sandbox.settings.grader_home`), absolute: the same file
    whatever folder a command runs from."""
    return f"sqlite:///{grader_home().resolve() / 'grader.db'}"


class ServiceSettings(BaseSettings):
    """Everything `grader serve` and `grader worker` read; each has a GRADER_* variable."""

    model_config = SettingsConfigDict(
        env_prefix="GRADER_", frozen=True, extra="ignore", populate_by_name=True
    )

    grader: GraderSettings = Field(default_factory=GraderSettings)
    #: Celery's visibility timeout, seconds; unset: longer than the bank's longest job.
    visibility_timeout: float | None = Field(default=None, gt=0)
    #: Unset: `db` in the config file, else <home>/grader.db (`db_source`).
    db_url: str = Field(default_factory=lambda: db_source()[0])
    broker_url: str | None = None
    workers: int = Field(default=2, ge=1)
    max_upload_bytes: int = Field(default=1024 * 1024, gt=0, validation_alias="GRADER_MAX_UPLOAD")
    student_rate: float = Field(default=1.0, gt=0)
    student_burst: int = Field(default=10, ge=1)
    client_rate: float = Field(default=20.0, gt=0)
    client_burst: int = Field(default=200, ge=1)
    #: A student's submissions queued or being graded at once (regrades aside); one more: 429.
    student_inflight: int = Field(default=3, ge=1)
    webhook_tolerance_s: int = Field(default=300, gt=0, validation_alias="GRADER_WEBHOOK_TOLERANCE")
    retry_scale: float = Field(default=1.0, ge=0)
    delivery_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="GRADER_DELIVERY_TIMEOUT"
    )
    #: Seconds a stopping server lets running jobs finish before it kills their sandboxes.
    shutdown_grace_s: float = Field(default=10.0, ge=0, validation_alias="GRADER_SHUTDOWN_GRACE")

    #: Seconds without a heartbeat after which a worker's running jobs go back to the queue.
    worker_timeout_s: float = Field(default=30.0, gt=0, validation_alias="GRADER_WORKER_TIMEOUT")

    #: The log's level and shape (`grader serve`, `grader worker`; grader/service/logs.py).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"

    @property
    def backend(self) -> str:
        return self.grader.backend

    def retry_delays(self) -> list[float]:
        return [delay * self.retry_scale for delay in RETRY_SCHEDULE]
