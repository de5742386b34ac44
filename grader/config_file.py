"""The user's config file: TOML at $GRADER_CONFIG, else ~/.config/grader/config.toml.

One reader for every command that consults it: `server` and `token` for the course-server
clients (`grader submit`, `course`, `stats`), `db` for the commands that open the store (`serve`,
`worker`, `tokens`, `lms`, `stats --db`). A missing file is an empty config; a file that is not
TOML is exit 2 naming it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from grader.errors import BadInput

CONFIG_HELP = "$GRADER_CONFIG or ~/.config/grader/config.toml"


def config_file() -> Path:
    configured = os.environ.get("GRADER_CONFIG")
    return Path(configured) if configured else Path.home() / ".config/grader/config.toml"


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The config file's keys (`config_file()` unless `path` is given); {} when there is none."""
    path = path or config_file()
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: not a readable TOML file ({exc}); fix or remove it") from exc
