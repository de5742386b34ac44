"""Files written whole or not at all: a reader, in this process or another, never sees half."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def write_whole(path: Path, data: bytes, sync: bool = False, mode: int = 0o666) -> None:
    """Write `data` to a draft beside `path` (its own name, so writers never share one; `mode`
    less the umask), then rename it over `path`; `sync` also holds against the host's crash.
    An `OSError` leaves `path` as it was and no draft behind."""
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(draft, path)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """A cache file's JSON; None when there is none or it cannot be read (a torn write of an
    older grader, a bad disk): the caller computes it again instead of failing."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
