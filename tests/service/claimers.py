"""What test_store.py runs in processes of their own, as several course servers sharing one store
would: claim queued submissions until none is left. Kept apart from the test module so that a
spawned process imports only the store, not the test suite."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from grader.service import store
from grader.service.db import make_engine


def own_sessions(url: str, isolation: str | None) -> tuple[Engine, sessionmaker[Session]]:
    """An engine of its own on the store at `url` (nothing shared with another caller's), and
    sessions on it whose transactions run at `isolation` (the server's default if None)."""
    engine = make_engine(url)
    bind = engine.execution_options(isolation_level=isolation) if isolation else engine
    return engine, sessionmaker(bind, expire_on_commit=False)


def claim_all(
    url: str,
    isolation: str | None,
    name: str,
    start: Barrier,
    claimed: Queue[tuple[str, list[str]]],
) -> None:
    """Claim with `store.claim_next`, as the in-process pool does, once every process is ready;
    put `(name, ids claimed)` on `claimed`."""
    engine, sessions = own_sessions(url, isolation)
    mine: list[str] = []
    try:
        start.wait(60)
        with sessions() as session:
            while (submission_id := store.claim_next(session, name)) is not None:
                mine.append(submission_id)
    finally:
        claimed.put((name, mine))
        engine.dispose()
