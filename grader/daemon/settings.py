"""The daemon's two variables, read with the standard library (the client reads them on every
`grader check`, before anything heavy); a value that does not parse is `BadInput` naming it."""

from __future__ import annotations

import os

from grader.errors import BadInput

#: Seconds without a check after which the daemon exits (`GRADER_DAEMON_IDLE_S`).
DEFAULT_IDLE_S = 900.0


def enabled() -> bool:
    """`GRADER_DAEMON`: `1` (the default) lets `grader check` use the daemon, `0` never."""
    text = os.environ.get("GRADER_DAEMON", "1")
    value = text.strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise BadInput(f"bad setting: GRADER_DAEMON={text!r}: give 1 (use the daemon) or 0")


def idle_seconds() -> float:
    """`GRADER_DAEMON_IDLE_S`: seconds > 0, else 900."""
    text = os.environ.get("GRADER_DAEMON_IDLE_S")
    if text is None:
        return DEFAULT_IDLE_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise BadInput(f"bad setting: GRADER_DAEMON_IDLE_S={text!r}: give seconds > 0")
    return value
