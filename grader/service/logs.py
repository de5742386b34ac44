"""The course server's log: one line per event in a submission's life, each naming the
submission, as text or as JSON, on stderr.

    accepted   a submission was stored and queued (student, question, assignment, queue)
    claimed    a worker took it (worker)
    graded     its report was written (verdict, score, duration_s, version), or dropped as a
               duplicate (written: false)
    regrade    an instructor sent it back to grading (by)
    delivery   an attempt at its callback (attempt, status, state, next_attempt_in_s, error)
    requeued   it went back to the queue (a shutdown, a restart after a crash)

`event()` writes one; `configure()` (called by `grader serve` and `grader worker`, from their
`--log-level` and `--log-format`) decides the level and the shape of every line, uvicorn's access
lines included. Without `configure()` nothing is printed, as for any library.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
events = logging.getLogger("grader.events")


def event(name: str, submission: str | None, **fields: Any) -> None:
    """Log one event of a submission's life, with its fields (None values are left out)."""
    found = {key: value for key, value in fields.items() if value is not None}
    events.info(name, extra={"event": name, "submission": submission, "fields": found})


def accepted(row: Any, via: str) -> None:
    """The `accepted` event of a stored submission (a `db.Submission`), from `via`."""
    event(
        "accepted",
        row.id,
        student=row.student,
        question=row.question,
        assignment=row.assignment,
        queue=row.queue,
        via=via,
    )


class TextLines(logging.Formatter):
    """`2026-11-30T18:00:00.123Z INFO graded submission=sub_x verdict=PASSED ...`."""

    def format(self, record: logging.LogRecord) -> str:
        head = f"{_when(record)} {record.levelname} "
        name = getattr(record, "event", None)
        if name is None:
            where = "" if record.processName == "MainProcess" else f"{record.processName} "
            line = f"{head}{where}{record.name}: {record.getMessage()}"
        else:
            pairs = [f"submission={record.submission}"] if record.submission else []  # type: ignore[attr-defined]
            pairs += [f"{k}={_text(v)}" for k, v in record.fields.items()]  # type: ignore[attr-defined]
            line = f"{head}{name} {' '.join(pairs)}"
        return line + (f"\n{self.formatException(record.exc_info)}" if record.exc_info else "")


class JsonLines(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `logger`, `event` or `message`, the fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": _when(record), "level": record.levelname}
        body["logger"] = record.name
        name = getattr(record, "event", None)
        if name is None:
            body["message"] = record.getMessage()
        else:
            body |= {"event": name, "submission": record.submission}  # type: ignore[attr-defined]
            body |= record.fields  # type: ignore[attr-defined]
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Every logger's lines (the grader's, uvicorn's) on stderr at `level`, as `fmt`."""
    # bound to the stream of the moment: Celery later swaps sys.stderr for a proxy that logs
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else TextLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def _when(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: Any) -> str:
    """A value as one token: quoted when it has spaces, never a line break."""
    text = " ".join(str(value).split())
    return json.dumps(text) if (" " in text or not text) else text
