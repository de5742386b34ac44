"""`grader worker`: a Celery worker on a grading host, grading with the host's own sandboxes.

Every option has a GRADER_* variable, so a compose file configures a worker with environment only.
A worker given GPUs runs one pool process per GPU (one job per GPU at a time); a worker without
GPUs may not consume the `gpu` queue, so a GPU item never lands on a CPU-only worker.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from grader.cli.options import add_backend_option, add_log_options
from grader.errors import BadInput

if TYPE_CHECKING:
    from grader.service.worker_context import WorkerConfig


def _queues(raw: str) -> list[str]:
    from grader.service.celery_app import QUEUES

    queues = [q.strip() for q in raw.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if not queues or unknown:
        raise BadInput(f"--queues: {raw!r} is not a list of {', '.join(QUEUES)}")
    return queues


def _concurrency(given: int | None, gpus: tuple[str, ...]) -> int:
    """One process per GPU on a GPU worker (never more); else `given`, else the CPU count."""
    if gpus:
        if given is not None and given > len(gpus):
            raise BadInput(f"--concurrency {given} > {len(gpus)} GPU(s): at most one job per GPU")
        return given or len(gpus)
    if given is not None and given < 1:
        raise BadInput("--concurrency must be at least 1")
    return given or os.cpu_count() or 1


def cmd_worker(args: argparse.Namespace) -> int:
    import socket

    from grader.bank import load_bank
    from grader.service import logs
    from grader.service.celery_app import configure_worker, make_app, visibility_timeout
    from grader.service.db import upgrade
    from grader.service.settings import ServiceSettings
    from grader.service.store_location import locate, require, say
    from grader.service.worker_context import WorkerConfig, parse_gpus
    from grader.settings import with_flags

    if not args.broker:
        raise BadInput("grader worker needs a broker: --broker URL or GRADER_BROKER_URL")
    queues = _queues(args.queues)
    gpus = parse_gpus(args.gpus or "")
    if "gpu" in queues and not gpus:
        raise BadInput("--queues gpu needs --gpus (the GPU ids this worker may use, e.g. 0,1)")
    given = args.concurrency if args.concurrency is not None else _env_int("GRADER_CONCURRENCY")
    concurrency = _concurrency(given, gpus)
    store = locate(args.db)
    require(store, can_create=False)  # a worker's jobs are in the server's store, never a new one
    config = WorkerConfig(store.url, with_flags(args.bank, args.backend), gpus)
    bank = load_bank([config.grader.bank])  # a broken bank fails here, not per job
    upgrade(config.db_url)  # once, before the pool forks: pool processes never migrate
    say(store)
    defaults = ServiceSettings()
    level = args.log_level or defaults.log_level
    logs.configure(level, args.log_format or defaults.log_format)
    configure_worker(config)
    app = make_app(args.broker, visibility_timeout(bank))
    worker = app.Worker(
        hostname=f"grader-{os.getpid()}@{socket.gethostname()}",
        pool_cls="prefork",
        concurrency=concurrency,
        queues=queues,
        loglevel=level.upper(),
        without_mingle=True,
        without_gossip=True,
    )
    return _run_beating(worker, config, defaults.worker_timeout_s)


def _run_beating(worker: Any, config: WorkerConfig, timeout_s: float) -> int:
    """Run the Celery worker while its main process heartbeats: should the whole worker be lost,
    the course server gives its jobs back after `timeout_s` (grader.service.heartbeats)."""
    from grader.service.db import open_store
    from grader.service.heartbeats import Heartbeat, interval, worker_name

    name = worker_name(config.scope)
    heartbeat = Heartbeat(open_store(config.db_url), name, interval(timeout_s))
    heartbeat.start()
    try:
        worker.start()
    finally:
        heartbeat.stop()
    return int(worker.exitcode or 0)


def add_worker_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    env = os.environ.get
    p = sub.add_parser("worker", help="a Celery worker grading with this host's sandboxes")
    p.add_argument("--broker", default=env("GRADER_BROKER_URL"), help="redis:// or amqp:// URL")
    p.add_argument("--queues", default=env("GRADER_QUEUES", "cpu"), help="cpu, gpu or cpu,gpu")
    p.add_argument("--concurrency", type=int, help="pool processes (default: $GRADER_CONCURRENCY)")
    p.add_argument("--gpus", default=env("GRADER_GPUS"), help="GPU ids this worker may use: 0,1")
    p.add_argument("--db", help="store URL (default: $GRADER_DB_URL, config, <home>/grader.db)")
    add_backend_option(p)
    add_log_options(p)
    p.set_defaults(func=cmd_worker)


def _env_int(name: str) -> int | None:
    """Read when the command runs, not when the parser is built: a bad value is exit 2."""
    raw = os.environ.get(name)
    try:
        return int(raw) if raw else None
    except ValueError:
        raise BadInput(f"bad setting: {name}={raw!r}: not a whole number") from None
