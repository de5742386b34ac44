"""Run a probe plan on a source in a sandbox and read its channel: the one way both the student's
run and the reference's run happen."""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import CodeItem
from grader.probe.channel import Observations, parse_channel
from grader.probe.plan import ProbePlan, harness_request, limits_for
from sandbox.base import RunResult, Sandbox


@dataclass(frozen=True)
class Run:
    """One harness run: the sandbox's result and what its channel said."""

    result: RunResult
    observations: Observations


def run_harness(
    sandbox: Sandbox, item: CodeItem, source: str, data: dict[str, bytes], plan: ProbePlan
) -> Run:
    """Run the plan on a source; a malformed channel raises `ChannelError`."""
    result = sandbox.run(harness_request(source, plan, limits_for(item), data))
    observations = parse_channel(result.channel, plan.nonce, plan.probe_ids)
    return Run(result, observations)
