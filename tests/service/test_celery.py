"""Scale-out with Celery on a real broker: delivery survives a killed worker, routing holds.

The fleet tests start real `grader worker` processes (process sandbox) on each broker
(`both_brokers`): a private redis-server with a SQLite store, and a private virtual host on the
machine's RabbitMQ with a scratch PostgreSQL store, whose worker processes each hold their own
connections. A broker or store that does not answer skips them with the reason (fails them under
`make ci`, which checks both answer first: `make services`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.errors import NeedsGpu
from grader.ops.loopback import Broker, Fleet, echo_source, wait_until, write_bank
from grader.service import store
from grader.service.celery_app import (
    AMQP_HEARTBEAT_S,
    TASK_NAME,
    make_app,
    transport_options,
    visibility_timeout,
)
from grader.service.celery_dispatch import CeleryDispatcher
from grader.service.db import open_store
from grader.service.settings import ServiceSettings
from grader.service.worker_context import DeviceBoundSandbox, WorkerConfig, WorkerContext, claim_gpu
from grader.settings import with_flags
from sandbox.base import GpuPolicy, Limits, RunRequest
from sandbox.fake import FakeSandbox, result
from tests.service.conftest import StoreUrl, both_brokers


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "bank")


@pytest.fixture
def make_fleet(
    tmp_path: Path, bank: Path, broker: Broker, store_url: StoreUrl
) -> Iterator[Callable[..., Fleet]]:
    """`make_fleet(visibility_s=10)`: a fleet on the test's broker (its queues emptied by the
    `broker` fixture) and a new store of the test's kind; closed after."""
    made: list[Fleet] = []

    def make(visibility_s: int = 10) -> Fleet:
        made.append(Fleet(tmp_path, broker.url, bank, visibility_s, db_url=store_url()))
        return made[-1]

    yield make
    for fleet in made:
        fleet.close()


@pytest.fixture
def fleet(make_fleet: Callable[..., Fleet]) -> Fleet:
    return make_fleet()


# -- the app's delivery settings ------------------------------------------------------------


def test_app_acknowledges_late_one_message_at_a_time_json_only() -> None:
    app = make_app("redis://127.0.0.1:1/0", timeout=900)
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.broker_transport_options["visibility_timeout"] == 900
    assert TASK_NAME in app.tasks
    app.close()


def test_rabbitmq_gets_heartbeats_and_confirms_and_no_visibility_timeout(caplog) -> None:
    app = make_app("amqp://guest:guest@127.0.0.1:1//", timeout=900)
    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_heartbeat == AMQP_HEARTBEAT_S
    assert conf.broker_transport_options == {"confirm_publish": True}
    app.close()
    assert not caplog.records
    make_app("amqp://guest:guest@127.0.0.1:1//", timeout=3600).close()
    assert "consumer_timeout" in caplog.text  # jobs that long outlast RabbitMQ's ack deadline


def test_visibility_timeout_outlasts_the_longest_job(bank: Path, monkeypatch) -> None:
    longest = max(i.limits.wall_s for i in load_bank([bank]).items.values() if hasattr(i, "limits"))
    assert visibility_timeout(load_bank([bank])) > 2 * longest
    assert visibility_timeout() > 2 * 600  # no bank: longer than any job the schema allows
    monkeypatch.setenv("GRADER_VISIBILITY_TIMEOUT", "12")
    assert visibility_timeout(load_bank([bank])) == 12


def test_abandoned_jobs_are_swept_well_within_a_short_timeout() -> None:
    options = transport_options(10)
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 5


# -- GPU binding and refusal, in process ----------------------------------------------------


def test_a_gpu_run_gets_the_process_gpu_and_a_cpu_run_none() -> None:
    fake = FakeSandbox(lambda request: result())
    bound = DeviceBoundSandbox(fake, "1")
    bound.run(RunRequest(argv=("python",), limits=Limits(gpu=GpuPolicy.REQUIRED)))
    bound.run(RunRequest(argv=("python",), limits=Limits()))
    assert [r.limits.gpu_devices for r in fake.requests] == [("1",), ()]


def test_each_process_claims_a_different_gpu_until_none_is_left(tmp_path: Path) -> None:
    scope = f"test-{tmp_path.name}"
    first, second = claim_gpu(("0", "1"), scope), claim_gpu(("0", "1"), scope)
    assert first is not None and second is not None
    assert {first[0], second[0]} == {"0", "1"}
    assert claim_gpu(("0", "1"), scope) is None


def test_a_process_without_gpu_refuses_a_gpu_item_before_claiming_it(
    tmp_path: Path, bank: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    sessions = open_store(url)
    with sessions() as session:
        new = store.NewSubmission(
            question="gpu-echo", student="s", queue="gpu", filename="a.py", content=b"x = 1\n"
        )
        submission_id = store.add_submission(session, new).id
        session.commit()
    context = WorkerContext(WorkerConfig(db_url=url, grader=with_flags(bank, "process")), gpu=None)
    with pytest.raises(NeedsGpu):
        context.grade(submission_id)
    with sessions() as session:
        row = session.get(store.Submission, submission_id)
        assert row is not None and (row.status, row.attempts) == ("queued", 0)
    context.close()
    sessions.kw["bind"].dispose()


def test_worker_refuses_the_gpu_queue_without_gpus(capsys) -> None:
    code = main(["worker", "--broker", "redis://127.0.0.1:1/0", "--queues", "gpu"])
    assert code == 2
    assert "--gpus" in capsys.readouterr().err


def test_worker_refuses_more_jobs_than_gpus(capsys) -> None:
    argv = ["worker", "--broker", "redis://127.0.0.1:1/0", "--gpus", "0", "--concurrency", "2"]
    assert main(argv) == 2
    assert "one job per GPU" in capsys.readouterr().err


# -- real workers on a real broker ----------------------------------------------------------


@pytest.mark.slow
@both_brokers
def test_killed_worker_job_is_graded_elsewhere_and_reported_once(fleet: Fleet) -> None:
    """Two workers, a burst; one is SIGKILLed mid-job; every submission gets one report."""
    victim, survivor = fleet.start_worker("victim"), fleet.start_worker("survivor")
    ids = [fleet.submit("slow-echo", source=echo_source(3)) for _ in range(6)]
    ids += [fleet.submit("quick", choice="B") for _ in range(12)]
    assert wait_until(lambda: fleet.running_on(victim, "slow-echo") is not None, 60)
    killed_job = fleet.running_on(victim, "slow-echo")
    fleet.kill(victim)

    # The killed job comes back through Redis' visibility timeout (10 s here), or at once from
    # RabbitMQ, which sees the victim's connection close.
    assert fleet.wait_done(ids, timeout_s=120), [r.status for r in fleet.rows(ids)]
    writes = fleet.writes()
    assert {i: writes[i] for i in ids} == dict.fromkeys(ids, 1)
    assert sum(writes.values()) == len(ids)
    rows = {r.id: r for r in fleet.rows(ids)}
    assert [r.report and r.report["status"] for r in rows.values()] == ["passed"] * len(ids)
    again = rows[killed_job]
    assert again.attempts >= 2 and survivor.scope in (again.graded_by or "")


@pytest.mark.slow
@both_brokers
def test_a_pool_process_killed_mid_job_gives_its_job_back_at_once(
    make_fleet: Callable[..., Fleet],
) -> None:
    """Reject on worker lost: no visibility timeout (10 min here) is needed to grade it again,
    and the worker's own connection (RabbitMQ's trigger) stays open."""
    fleet = make_fleet(visibility_s=600)
    worker = fleet.start_worker("w")
    job = fleet.submit("slow-echo", source=echo_source(5))
    assert wait_until(lambda: fleet.running_on(worker, "slow-echo") == job, 60)
    pool_pid = int((fleet.row(job).graded_by or "").rsplit("/", 1)[1])
    os.kill(pool_pid, signal.SIGKILL)
    assert fleet.wait_done([job], timeout_s=120)
    row = fleet.row(job)
    assert row.attempts == 2 and not row.graded_by.endswith(f"/{pool_pid}")
    assert fleet.writes()[job] == 1


@pytest.mark.slow
@both_brokers
def test_gpu_item_waits_for_a_gpu_worker_and_never_lands_on_a_cpu_one(
    fleet: Fleet, broker: Broker
) -> None:
    cpu_worker = fleet.start_worker("cpu-only", queues="cpu")
    gpu_job = fleet.submit("gpu-echo", source=echo_source(0), queue="gpu")
    cpu_job = fleet.submit("slow-echo", source=echo_source(0))
    assert fleet.wait_done([cpu_job], timeout_s=60)
    gpu_row = fleet.row(gpu_job)
    assert (gpu_row.status, gpu_row.attempts) == ("queued", 0)
    assert broker.depth("gpu") == 1
    assert gpu_job not in cpu_worker.text()

    gpu_worker = fleet.start_worker("gpu", queues="gpu", gpus="0")
    assert fleet.wait_done([gpu_job], timeout_s=60)
    graded = fleet.row(gpu_job)
    assert gpu_worker.scope in (graded.graded_by or "") and graded.graded_by.endswith(":gpu0")
    # This host has no GPU: the process sandbox refuses the run, so the report is an error that
    # says why, never a grade earned without the GPU.
    assert graded.report is not None and graded.report["status"] == "error"
    assert "GPU" in graded.report["message"]


@pytest.mark.slow
@both_brokers
def test_restarted_server_resends_unfinished_submissions(fleet: Fleet) -> None:
    """A server that died between commit and send: start() sends again; one report still."""
    with fleet.sessions() as session:
        orphan = store.add_submission(session, store.NewSubmission("quick", "s", choice="B")).id
        session.commit()
    done_already = fleet.submit("quick", choice="B")
    fleet.start_worker("w")
    assert fleet.wait_done([done_already], timeout_s=60)
    restarted = CeleryDispatcher(ServiceSettings(broker_url=fleet.broker), fleet.sessions)
    restarted.start()
    restarted.dispatch(done_already, "cpu")  # a duplicate message, as after a crash
    restarted.stop()
    assert fleet.wait_done([orphan], timeout_s=60)
    duplicate = f"duplicate delivery: {done_already} already graded"
    assert wait_until(lambda: duplicate in fleet.workers[0].text(), 60)
    assert fleet.writes()[orphan] == 1 and fleet.writes()[done_already] == 1
