"""`grader serve`: the app under uvicorn, with the dispatcher and the delivery sender around it.

Start-up refuses a broken course: the assignments (`GRADER_ASSIGNMENTS`) are read against the
bank first, and a bad file stops the server with its `file:line:column` issue (exit 2), before
the store or the socket is touched. Then the order makes a crash harmless: the schema is
upgraded, submissions a killed server left
`running` go back to the queue (embedded pool only: with a broker, Celery redelivers its own), the
workers and the sender start, and only then does the socket accept work. SIGTERM or SIGINT stop
the same way in reverse, each step logged on stderr (`grader.service.shutdown`): uvicorn stops
accepting and drains requests; the embedded pool gives running jobs `shutdown_grace_s`, kills
every sandbox process of those still running and puts them back to `queued` (`LocalPool.stop`);
then the sender stops. A second signal ends the grace period at once.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank, load_bank
from grader.courses.catalog import Catalog, load_catalog
from grader.errors import BankError, GraderError
from grader.service import logs, shutdown, store
from grader.service.app import create_app
from grader.service.db import open_store
from grader.service.dispatch import Dispatcher
from grader.service.errors import Stopped
from grader.service.pool import LocalPool
from grader.service.settings import ServiceSettings
from grader.service.state import ServiceState

if TYPE_CHECKING:
    from grader.service.deliveries import DeliverySender


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
    logs.configure(settings.log_level, settings.log_format)
    signals = _Signals()
    previous = {sig: signal.signal(sig, signals.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _serve(settings, host, port, bank, catalog, signals)
    except Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    shutdown.log.info("stopped")


def course_catalog(settings: ServiceSettings, bank: Bank) -> Catalog:
    """The course's assignments; `BankError` naming every broken file's issues, as a broken bank
    stops a worker: a server that ignored a bad file would take work its rules should refuse."""
    catalog = load_catalog(settings.grader.assignments, bank)
    if catalog.issues:
        raise BankError(catalog.issues)
    return catalog


class _Signals:
    """SIGTERM and SIGINT (uvicorn's own handlers stand in while it serves): the first raises
    `Stopped` in the main thread; another, while the server stops, ends the grace period."""

    def __init__(self) -> None:
        self.stopping = False
        self.hurry = threading.Event()

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.stopping:
            self.stopping = True
            raise Stopped(name)
        shutdown.log.info("%s again: ending the grace period now", name)
        self.hurry.set()


def _serve(
    settings: ServiceSettings,
    host: str,
    port: int,
    bank: Bank,
    catalog: Catalog,
    signals: _Signals,
) -> None:
    from grader.service.deliveries import DeliverySender

    sessions = open_store(settings.db_url)
    listener = _listen(host, port)
    try:
        dispatcher = _dispatcher(settings, sessions, bank, signals.hurry)
        state = ServiceState(settings, sessions, bank, dispatcher, catalog)
        sender = DeliverySender(state.sessions, state.settings, courses=state)
        try:
            state.dispatcher.start()
            sender.start()
            _run(state, listener, host)
        except Stopped as stop:
            shutdown.log.info("%s: no longer accepting requests", stop)
            raise
        finally:
            signals.stopping = True  # a signal from now on only hurries the stop
            _stop_workers(state.dispatcher, sender)
    finally:
        listener.close()
        sessions.kw["bind"].dispose()


def _stop_workers(dispatcher: Dispatcher, sender: DeliverySender) -> None:
    """The grading first (its grace period is what a student waits on), then the callbacks."""
    dispatcher.stop()
    shutdown.log.info("stopping the callback sender")
    sender.stop()


def _dispatcher(
    settings: ServiceSettings, sessions: sessionmaker[Session], bank: Bank, hurry: threading.Event
) -> Dispatcher:
    if settings.broker_url:
        from grader.service.celery_dispatch import CeleryDispatcher

        return CeleryDispatcher(settings, sessions)
    with sessions() as session:
        requeued = store.requeue_running(session)
    if requeued:
        print(f"re-queued {requeued} submission(s) left running", file=sys.stderr)
    return LocalPool(settings, sessions, bank, hurry=hurry)


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
        log_level=state.settings.log_level,
        log_config=None,  # uvicorn's lines go through logs.configure's handler, same shape
        access_log=True,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    _Server(config, f"http://{shown}:{port}").run(sockets=[listener])
