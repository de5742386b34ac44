"""The Celery app: a broker URL (Redis or AMQP) in, a configured app with one task out.

Delivery is at-least-once and made exactly-once in effect:

- late acknowledgement (`task_acks_late`): a message is acknowledged after the job, so a worker
  that dies mid-job leaves it unacknowledged;
- `task_reject_on_worker_lost`: a pool process killed mid-job puts its message back at once;
- a prefetch of one: a worker holds no more messages than it runs, so a dead worker strands few;
- with Redis, a visibility timeout longer than the longest job: a message unacknowledged for that
  long (its whole worker died) is handed out again by the next sweep of any live worker;
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


def make_app(broker_url: str, timeout: float | None = None) -> Celery:
    """A Celery app on `broker_url` (redis://, rediss://, amqp://) with the grading task."""
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
        broker_transport_options=transport_options(timeout or visibility_timeout()),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
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
