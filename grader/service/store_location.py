"""Which store a command opens, said on stderr; a store that is not there yet is made on purpose.

Every command that opens the store (`serve`, `worker`, `tokens`, `lms`, `stats --db`) finds it the
same way (`settings.db_source`: `--db`, $GRADER_DB_URL, `db` in the config file, else
<home>/grader.db) and prints `store: URL (where it came from)` on stderr, the password masked, so
an operator sees at once when two commands disagree. A SQLite file that does not exist yet is made
by `grader serve`, or by an operator command given `--create`; any other command refuses it rather
than start a second, empty store whose tokens and clients the server would never see.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import BadInput
from grader.service.db import check_url, open_store, shown_url
from grader.service.settings import db_source

#: How a missing store is refused; `{create}` is " or pass --create" where the command has it.
MISSING = (
    "no store at {path}; run `grader serve` first{create} "
    "(is GRADER_DB_URL set the way the server's is?)"
)


@dataclass(frozen=True)
class StoreLocation:
    """A store's URL (a relative SQLite path made absolute) and where it was found."""

    url: str
    source: str

    @property
    def file(self) -> Path | None:
        return sqlite_file(make_url(self.url))

    @property
    def missing(self) -> bool:
        return self.file is not None and not self.file.exists()

    def line(self, new: str = "") -> str:
        """`store: URL (from SOURCE)`, masked; `new` says what became of a store not there."""
        source = "default" if self.source == "default" else f"from {self.source}"
        return f"store: {shown_url(self.url)} ({source}{'; ' + new if new else ''})"


def locate(given: str | None) -> StoreLocation:
    """The store a command given `--db given` opens; `BadInput` for a URL that cannot be used.
    A relative SQLite path is resolved against the working directory, as SQLite would, so the
    line printed names the file wherever it is read."""
    url, source = db_source(given)
    parsed = check_url(url)
    path = sqlite_file(parsed)
    if path is not None and not path.is_absolute():
        url = parsed.set(database=str(path.resolve())).render_as_string(hide_password=False)
    return StoreLocation(url, source)


def sqlite_file(url: URL) -> Path | None:
    """The SQLite file `url` names; None for another database, memory or a URI filename."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri") == "true":
        return None
    database = url.database or ""
    return None if database in ("", ":memory:") else Path(database)


def require(location: StoreLocation, can_create: bool) -> None:
    """`BadInput` when the store is a SQLite file that is not there (`can_create`: the command
    takes `--create`, and the message says so)."""
    if location.missing:
        create = " or pass --create" if can_create else ""
        raise BadInput(MISSING.format(path=location.file, create=create))


def say(location: StoreLocation, new: str = "") -> None:
    print(location.line(new), file=sys.stderr, flush=True)


def operator_store(given: str | None, create: bool | None = None) -> sessionmaker[Any]:
    """Open the store for an operator command and say which it is. A SQLite file not there is
    created with `create` True, refused otherwise (`create` None: the command has no `--create`:
    it would only read an empty store)."""
    location = locate(given)
    new = location.missing
    if new and not create:
        require(location, can_create=create is not None)
    sessions = open_store(location.url)
    say(location, "new, created" if new else "")
    return sessions


@contextmanager
def operator_session(given: str | None, create: bool | None = None) -> Iterator[Session]:
    """One session on the operator's store (`operator_store`); its engine is disposed after, so
    no connection outlives the command."""
    sessions = operator_store(given, create)
    try:
        with sessions() as session:
            yield session
    finally:
        sessions.kw["bind"].dispose()
