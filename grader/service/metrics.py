"""`GET /metrics`: queue depth, grading latency, verdict counts and the LMS deliveries, in
Prometheus text.

Every figure is read from the store when scraped, not counted in this process: jobs graded by
Celery workers on other hosts, or before a restart, count the same as the in-process pool's, and
the counters never go back when the server restarts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from grader.service import store
from grader.service.db import Delivery, Submission

#: Upper bounds (seconds) of the grading-latency buckets: an MCQ takes milliseconds, code seconds.
LATENCY_BUCKETS = (0.05, 0.25, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)
STATUSES = ("queued", "running", "done")
DELIVERY_STATES = ("pending", "delivered", "failed")


QUEUES = ("cpu", "gpu")


class StoreCollector(Collector):
    """Collects the service's figures from the submissions table at scrape time."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            depth = store.count_by_status(session)
            verdicts = verdict_counts(session)
            buckets, total, count = latency_histogram(session)
            deliveries = delivery_counts(session)
            retry_age = delivery_retry_age(session, time.time())
            waits = queue_waits(session, time.time())
        yield _depth_metric(depth)
        wait = GaugeMetricFamily(
            "grader_queue_wait_seconds",
            "Per queue, how long its oldest queued submission has waited (0: none waiting)",
            labels=["queue"],
        )
        for queue in QUEUES:
            wait.add_metric([queue], waits.get(queue, 0.0))
        yield wait
        yield HistogramMetricFamily(
            "grader_grading_seconds",
            "Seconds from a job's (last) claim to its report",
            buckets=[*buckets, ("+Inf", count)],
            sum_value=total,
        )
        reports = CounterMetricFamily(
            "grader_reports", "Reports written, by verdict", labels=["verdict"]
        )
        for verdict, n in sorted(verdicts.items()):
            reports.add_metric([verdict], n)
        yield reports
        yield _deliveries_metric(deliveries)
        yield GaugeMetricFamily(
            "grader_delivery_retry_age_seconds",
            "Seconds since the earliest next attempt of a pending delivery fell due (negative: "
            "not yet due); 0 with none pending",
            value=retry_age,
        )


def _depth_metric(depth: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "grader_queue_depth",
        "Submissions by status: queued and running are the work not yet reported",
        labels=["status"],
    )
    for status in STATUSES:
        gauge.add_metric([status], depth.get(status, 0))
    return gauge


def _deliveries_metric(counts: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(
        "grader_deliveries",
        "LMS report deliveries by state: pending (owed), delivered, failed (given up)",
        labels=["state"],
    )
    for state in DELIVERY_STATES:
        gauge.add_metric([state], counts.get(state, 0))
    return gauge


def queue_waits(session: Session, now: float) -> dict[str, float]:
    """Per queue, the age of its oldest queued submission: how long grading is behind there."""
    rows = session.execute(
        select(Submission.queue, func.min(Submission.created_at))
        .where(Submission.status == "queued")
        .group_by(Submission.queue)
    )
    return {str(queue): max(0.0, now - float(oldest)) for queue, oldest in rows}


def delivery_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
    return {str(state): int(n) for state, n in rows}


def delivery_retry_age(session: Session, now: float) -> float:
    """How long ago the earliest next attempt of a pending delivery fell due: above a few
    seconds the sender is stuck or behind; negative, every pending one waits for a retry (or is
    being sent); 0 when none is pending."""
    earliest = session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.state == "pending")
    )
    return 0.0 if earliest is None else now - float(earliest)


def verdict_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Submission.verdict, func.count())
        .where(Submission.status == "done")
        .group_by(Submission.verdict)
    )
    return {str(verdict): int(n) for verdict, n in rows}


def latency_histogram(session: Session) -> tuple[list[tuple[str, float]], float, int]:
    """Cumulative bucket counts, the sum and the count of grading times, in one query."""
    seconds = Submission.finished_at - Submission.started_at
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in LATENCY_BUCKETS]
    row = session.execute(
        select(*columns, func.coalesce(func.sum(seconds), 0.0), func.count()).where(
            Submission.status == "done", Submission.started_at.is_not(None)
        )
    ).one()
    buckets = [(str(bound), float(n or 0)) for bound, n in zip(LATENCY_BUCKETS, row, strict=False)]
    return buckets, float(row[-2]), int(row[-1])


def metrics_registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    """A registry of its own per app, so two apps in one process (tests) never share figures."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(sessions))
    return registry
