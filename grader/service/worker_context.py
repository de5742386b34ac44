"""What one Celery pool process holds to grade: the store, the bank, a sandbox, maybe one GPU.

A grading host's worker is started with the GPUs it may use (`--gpus 0,1`) and as many pool
processes as GPUs. Each pool process claims one GPU for its lifetime with an exclusive file lock,
so at most one job runs per GPU; a replacement process (after a crash) takes the freed GPU. The
GPU id travels to the sandbox in `Limits.gpu_devices` through `DeviceBoundSandbox`, the only place
that sets it: items only say whether they need a GPU, the host says which one.

A process without a GPU never grades an item that requires one: it raises `NeedsGpu` before
claiming the submission, and the task hands the job back to the `gpu` queue.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from grader.bank import Bank, load_bank
from grader.errors import GraderError, NeedsGpu
from grader.service.db import Submission, make_engine
from grader.service.grading import queue_for, run_job
from grader.service.heartbeats import worker_name
from grader.service.settings import db_url
from grader.settings import GraderSettings
from sandbox.backends import open_sandbox
from sandbox.base import GpuPolicy, RunRequest, RunResult, Sandbox

log = logging.getLogger("grader.worker")


def _gpus_from_env() -> tuple[str, ...]:
    return parse_gpus(os.environ.get("GRADER_GPUS", ""))


def parse_gpus(raw: str) -> tuple[str, ...]:
    """`"0,1"` -> `("0", "1")`; blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class WorkerConfig:
    """What `grader worker` was told; inherited by the pool processes it forks."""

    db_url: str = field(default_factory=db_url)
    grader: GraderSettings = field(default_factory=GraderSettings)
    gpus: tuple[str, ...] = field(default_factory=_gpus_from_env)
    #: The worker (its main pid): names its GPU lock folder and appears in `graded_by`.
    scope: str = field(default_factory=lambda: str(os.getpid()))


class DeviceBoundSandbox:
    """A sandbox whose GPU runs all use one fixed device, the one this process holds."""

    def __init__(self, inner: Sandbox, device: str) -> None:
        self.inner = inner
        self.device = device
        self.name = inner.name

    def run(self, request: RunRequest) -> RunResult:
        limits = request.limits
        if limits.gpu is not GpuPolicy.NONE:
            limits = dataclasses.replace(limits, gpu_devices=(self.device,))
            request = dataclasses.replace(request, limits=limits)
        return self.inner.run(request)

    def close(self) -> None:
        self.inner.close()


def claim_gpu(gpus: tuple[str, ...], scope: str) -> tuple[str, int] | None:
    """Lock the first free GPU of `gpus`: its id and the lock's fd (held until the process dies).

    A kernel file lock, not a counter: a killed process releases its GPU with no clean-up.
    """
    folder = Path(tempfile.gettempdir()) / f"grader-gpus-{scope}"
    folder.mkdir(exist_ok=True)
    for gpu in gpus:
        fd = os.open(folder / f"{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return gpu, fd
    return None


class WorkerContext:
    """Per pool process: opened lazily on the first job, so nothing crosses a fork."""

    def __init__(self, config: WorkerConfig, gpu: str | None) -> None:
        self.config = config
        self.gpu = gpu
        # host:worker/process[:gpuN], so an operator (or a test) sees which worker graded what.
        # The part before the `/` is the worker's heartbeat name (grader.service.heartbeats).
        where = f"{worker_name(config.scope)}/{os.getpid()}"
        self.name = where + (f":gpu{gpu}" if gpu else "")
        self.sessions: sessionmaker[Session] = sessionmaker(
            make_engine(config.db_url), expire_on_commit=False
        )
        self.bank: Bank = load_bank([config.grader.bank])
        sandbox = open_sandbox(config.grader.backend, config.grader.sandbox)
        self.sandbox: Sandbox = DeviceBoundSandbox(sandbox, gpu) if gpu else sandbox

    def grade(self, submission_id: str) -> bool:
        """Grade one submission unless it needs a GPU this process lacks; True if we wrote it."""
        self._refuse_without_gpu(submission_id)
        wrote = run_job(self.sessions, self.bank, submission_id, self.sandbox, self.name)
        if wrote:
            log.info("report written: %s by %s", submission_id, self.name)
        else:
            log.info("duplicate delivery: %s already graded (%s)", submission_id, self.name)
        return wrote

    def _refuse_without_gpu(self, submission_id: str) -> None:
        if self.gpu is not None:
            return
        with self.sessions() as session:
            row = session.get(Submission, submission_id)
            question = row.question if row is not None else None
        if question is None:
            return  # run_job finds nothing to claim
        try:
            item = self.bank.get(question)
        except GraderError:
            return  # run_job writes the error report
        if queue_for(item) == "gpu":
            raise NeedsGpu(f"{submission_id} ({question}) needs a GPU; {self.name} has none")

    def close(self) -> None:
        self.sandbox.close()
        engine = self.sessions.kw.get("bind")
        if engine is not None:
            engine.dispose()
