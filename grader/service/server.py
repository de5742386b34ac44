"""`grader serve`: the app under uvicorn, with the dispatcher and the delivery sender around it.

Start-up refuses a broken course: the assignments (`GRADER_ASSIGNMENTS`) are read against the
bank first, and a bad file stops the server with its `file:line:column` issue (exit 2), before
the store or the socket is touched. Then the order makes a crash harmless: the schema is
upgraded, submissions a killed server left
`running` go back to the queue (embedded pool only: with a broker, Celery redelivers its own), the
workers and the sender start, and only then does the socket accept work. SIGTERM or SIGINT stop
the same way in reverse: uvicorn drains requests, then the sender and the workers stop.
"""

from __future__ import annotations

import signal
import socket
import sys
from types import FrameType

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank, load_bank
from grader.courses.catalog import Catalog, load_catalog
from grader.errors import BankError, GraderError
from grader.service import store
from grader.service.app import create_app
from grader.service.db import open_store
from grader.service.dispatch import Dispatcher
from grader.service.errors import Stopped
from grader.service.pool import LocalPool
from grader.service.settings import ServiceSettings
from grader.service.state import ServiceState


class _Server(uvicorn.Server):
    """uvicorn's server, saying `serving on URL` on stderr once the socket accepts."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"serving on {self.url}", file=sys.stderr, flush=True)


def serve(settings: ServiceSettings, host: str, port: int, *, bank: Bank | None = None) -> None:
    """Serve until SIGTERM or SIGINT; `port` 0 picks a free one (the printed URL names it)."""
    bank = bank or load_bank()
    catalog = course_catalog(settings, bank)
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _serve(settings, host, port, bank, catalog)
    except Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def course_catalog(settings: ServiceSettings, bank: Bank) -> Catalog:
    """The course's assignments; `BankError` naming every broken file's issues, as a broken bank
    stops a worker: a server that ignored a bad file would take work its rules should refuse."""
    catalog = load_catalog(settings.grader.assignments, bank)
    if catalog.issues:
        raise BankError(catalog.issues)
    return catalog


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


def _serve(settings: ServiceSettings, host: str, port: int, bank: Bank, catalog: Catalog) -> None:
    from grader.service.deliveries import DeliverySender

    sessions = open_store(settings.db_url)
    listener = _listen(host, port)
    try:
        dispatcher = _dispatcher(settings, sessions, bank)
        state = ServiceState(settings, sessions, bank, dispatcher, catalog)
        sender = DeliverySender(state.sessions, state.settings, courses=state)
        state.dispatcher.start()
        sender.start()
        try:
            _run(state, listener, host)
        finally:
            sender.stop()
            state.dispatcher.stop()
    finally:
        listener.close()
        sessions.kw["bind"].dispose()


def _dispatcher(
    settings: ServiceSettings, sessions: sessionmaker[Session], bank: Bank
) -> Dispatcher:
    if settings.broker_url:
        from grader.service.celery_dispatch import CeleryDispatcher

        return CeleryDispatcher(settings, sessions)
    with sessions() as session:
        requeued = store.requeue_running(session)
    if requeued:
        print(f"re-queued {requeued} submission(s) left running", file=sys.stderr)
    return LocalPool(settings, sessions, bank)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise GraderError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port or --host"
        ) from exc


def _run(state: ServiceState, listener: socket.socket, host: str) -> None:
    port = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    _Server(config, f"http://{shown}:{port}").run(sockets=[listener])
