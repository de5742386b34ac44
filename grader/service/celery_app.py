"""The Celery app: a broker URL (Redis or AMQP) in, a configured app with one task out.

Delivery is at-least-once and made exactly-once in effect:

- late acknowledgement (`task_acks_late`): a message is acknowledged after the job, so a worker
  that dies mid-job leaves it unacknowledged;
- `task_reject_on_worker_lost`: a pool process killed mid-job puts its message back at once;
- a prefetch of one: a worker holds no more messages than it runs, so a dead worker strands few;
- a message its whole worker took with it comes back by the broker's own rule (`broker_options`):
  Redis hands it out again once unacknowledged for the visibility timeout (longer than the longest
  job), RabbitMQ as soon as the connection that held it closes or misses its heartbeats;
- the report write is idempotent on the submission id (`store.finish`), and `store.claim` refuses
  a finished submission, so a second delivery writes nothing.

No result backend: the report goes to the store. JSON only on the wire: a message is a submission
id, nothing a worker would unpickle.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

from grader.bank import Bank
from grader.errors import NeedsGpu
from grader.models import CodeItem, PredictItem
from grader.models.code import ItemLimits
from grader.service.settings import ServiceSettings
from grader.service.worker_context import WorkerConfig, WorkerContext, claim_gpu

log = logging.getLogger("grader.worker")

TASK_NAME = "grader.grade_submission"
QUEUES = ("cpu", "gpu")
#: How long a job handed back for want of a GPU waits before it is offered again.
GPU_RETRY_S = 30
#: Room for what a job does besides its sandbox runs: the store, the bank, a slow sandbox start.
MARGIN_S = 300.0
#: Sandbox runs in one job at most: the submission and a reference solution.
RUNS_PER_JOB = 2
#: URL schemes of each broker kind Celery is given (kombu's names for them).
REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
#: Seconds between AMQP heartbeats: RabbitMQ drops a connection silent for two of them (a host
#: lost without closing its sockets) and hands its unacknowledged jobs out again.
AMQP_HEARTBEAT_S = 30.0
#: RabbitMQ's own ack deadline (`consumer_timeout`, a server setting) by default, seconds: a job
#: held unacknowledged longer is taken back and its channel closed. Jobs must end well before.
RABBITMQ_CONSUMER_TIMEOUT_S = 1800.0


def visibility_timeout(bank: Bank | None = None) -> float:
    """Seconds before Redis hands an unacknowledged job out again: `$GRADER_VISIBILITY_TIMEOUT`,
    else longer than the longest job of `bank` (or of any bank the item schema allows)."""
    configured = ServiceSettings().visibility_timeout  # a bad value: an error naming it
    if configured:
        return configured
    if bank is None:
        return RUNS_PER_JOB * _schema_max_wall() + MARGIN_S
    walls = [
        item.limits.wall_s
        for item in bank.items.values()
        if isinstance(item, CodeItem | PredictItem)
    ]
    return RUNS_PER_JOB * max(walls, default=0.0) + MARGIN_S


def _schema_max_wall() -> float:
    """The largest `wall_s` an item may declare (the item schema's `le` bound)."""
    metadata = ItemLimits.model_fields["wall_s"].metadata
    bounds = [float(m.le) for m in metadata if getattr(m, "le", None) is not None]
    return max(bounds, default=600.0)


def transport_options(timeout: float) -> dict[str, Any]:
    """Redis options: the timeout, and a sweep for abandoned jobs a few times per timeout.

    kombu sweeps every `interval * throttle` seconds (100 s by default), which would delay a
    redelivery far past a short timeout, so the throttle is off and the interval follows it.
    """
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(30, int(timeout // 10))),
        "unacked_restore_throttle": 1,
    }


def broker_options(broker_url: str, timeout: float) -> dict[str, Any]:
    """What the broker at `broker_url` needs besides the settings every broker shares, by scheme.

    Redis has no acknowledgements of its own: kombu keeps a taken message aside and a sweep hands
    it out again after `timeout`, the visibility timeout, which must outlast the longest job.
    RabbitMQ acknowledges itself: a message goes back when the connection that took it closes,
    or misses two heartbeats, so there is no visibility timeout; publisher confirms make a send
    return only once the broker holds the message (the server commits before it sends). Its
    `consumer_timeout` must outlast the longest job too; it is a server setting, checked here
    only against its default (`RABBITMQ_CONSUMER_TIMEOUT_S`). Other schemes get Celery's own.
    """
    scheme = broker_url.split("://", 1)[0].lower()
    if scheme in REDIS_SCHEMES:
        return {"broker_transport_options": transport_options(timeout)}
    if scheme in AMQP_SCHEMES:
        if timeout >= RABBITMQ_CONSUMER_TIMEOUT_S:
            log.warning(
                "jobs may run %.0f s, past RabbitMQ's default consumer_timeout (%.0f s): raise "
                "it on the broker or it takes long jobs back mid-grading",
                timeout,
                RABBITMQ_CONSUMER_TIMEOUT_S,
            )
        return {
            "broker_heartbeat": AMQP_HEARTBEAT_S,
            "broker_transport_options": {"confirm_publish": True},
        }
    return {}


def make_app(broker_url: str, timeout: float | None = None) -> Celery:
    """A Celery app on `broker_url` (redis://, rediss://, amqp://) with the grading task;
    `timeout`: the longest a job may take (default `visibility_timeout()`)."""
    app = Celery("grader", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_create_missing_queues=True,  # `cpu` and `gpu`, declared by whoever uses them first
        task_default_queue="cpu",
        task_routes={TASK_NAME: {"queue": "cpu"}},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        **broker_options(broker_url, timeout or visibility_timeout()),
    )
    app.task(name=TASK_NAME, bind=True, max_retries=None)(grade_submission)
    return app


def grade_submission(task: Task, submission_id: str) -> bool:
    """Grade one stored submission; hand it back to the `gpu` queue if it needs a GPU we lack."""
    try:
        return process_context().grade(submission_id)
    except NeedsGpu as exc:
        log.warning("%s; handing it back to the gpu queue", exc)
        raise task.retry(queue="gpu", countdown=GPU_RETRY_S, exc=exc) from exc


# What this process holds. `grader worker` sets `_config` before the pool forks; each pool
# process then claims its GPU in `worker_process_init` and opens the rest on its first job.
_config: WorkerConfig | None = None
_gpu: str | None = None
_context: WorkerContext | None = None


def configure_worker(config: WorkerConfig) -> None:
    """Set what the pool processes about to be forked will grade with."""
    global _config
    _config = config


def process_context() -> WorkerContext:
    global _context
    if _context is None:
        _context = WorkerContext(_config or WorkerConfig(), _gpu)
    return _context


def _claim_gpu_for_process(**_: Any) -> None:
    """A fresh pool process: drop any state forked from the parent, hold one GPU if given."""
    global _gpu, _context
    _context = None
    config = _config or WorkerConfig()
    claimed = claim_gpu(config.gpus, config.scope) if config.gpus else None
    _gpu = claimed[0] if claimed else None
    if config.gpus and claimed is None:
        log.error("no free GPU among %s for pool process %d", ",".join(config.gpus), os.getpid())


def _close_process(**_: Any) -> None:
    global _context
    if _context is not None:
        _context.close()
        _context = None


worker_process_init.connect(_claim_gpu_for_process, weak=False)
worker_process_shutdown.connect(_close_process, weak=False)
