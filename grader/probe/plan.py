"""Turn an item's checks into a probe plan: what to run and observe, never what to expect.

Checks whose inputs are drawn per run (`Check.varied`) get the run's seed: seeded draws in their
arguments, `SEED` in their code, the random batch of a `conforms` check. The reference run
computes every seed of the item's pool at once (probe ids `NAME@K`); a student run gets one seed
of the pool, drawn on the host, so nobody knows the inputs of the next run in advance.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.models import Check, CodeItem, PredictItem
from grader.probe.channel import LOAD
from grader.probe.harness import HARNESS_ARGV, harness_files
from sandbox.base import GpuPolicy, Limits, MiB, RunRequest


@dataclass(frozen=True)
class ProbePlan:
    """Probes in check order; `nonce` marks this run's observations (given on stdin, never in
    the plan file: the runner can read the plan, only the observer reads stdin). A student's
    run also names the item's `contract` (the runner says which of those names it defines) and
    its `wall_s` (the runner's watchdog samples where the code is, for time-limit feedback):
    both public, and feedback only."""

    probes: list[dict[str, Any]]
    cells: list[list[int]]
    nonce: str
    contract: list[str] = field(default_factory=list)
    wall_s: float | None = None

    def to_json(self) -> bytes:
        plan: dict[str, Any] = {"probes": self.probes, "cells": self.cells}
        if self.contract:
            plan["contract"] = self.contract
        if self.wall_s is not None:
            plan["wall_s"] = self.wall_s
        return json.dumps(plan).encode()

    @property
    def probe_ids(self) -> list[str]:
        return [probe["id"] for probe in self.probes]

    def content_key(self) -> str:
        """What identifies the plan for caching: everything but the nonce."""
        return json.dumps(self.probes, sort_keys=True)


def probe_id(check: Check) -> str:
    """The probe a check reads: its own, or the submission's load when it names no target."""
    has_target = check.eval is not None or check.exec is not None or check.call is not None
    return check.name if has_target else LOAD


def probe_for(check: Check, seed: int, name: str | None = None) -> dict[str, Any] | None:
    probe: dict[str, Any] = {"id": name or check.name, "attribute": check.attribute or ""}
    if check.varied:
        probe["seed"] = seed
    if check.expect.step_rates is not None:
        probe["capture"] = {"step": seed}
    conforms = check.expect.conforms
    if conforms is not None:
        batch = {"$randn": conforms.input, "seed": seed}
        probe["capture"] = {"input": batch}
        probe["conforms"] = {"arch": conforms.arch, "heads": conforms.heads}
    if check.eval is not None:
        return probe | {"kind": "eval", "expr": check.eval}
    if check.exec is not None:
        return probe | {"kind": "exec", "code": check.exec}
    if check.call is not None:
        call = check.call.model_dump(mode="json")
        return probe | {"kind": "call", **seeded(call, [seed])}
    return None


def seeded(value: Any, counter: list[int]) -> Any:
    """A copy with every draw given its own seed: the run's seed, then the next, ..."""
    if isinstance(value, list):
        return [seeded(v, counter) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: seeded(v, counter) for k, v in value.items()}
    if any(k in out for k in ("$randn", "$randint", "$model")):
        out["seed"] = counter[0]
        counter[0] += 1
    return out


def build_plan(
    checks: list[Check],
    cells: list[list[int]] | None = None,
    seed: int = 0,
    *,
    contract: Sequence[str] = (),
    wall_s: float | None = None,
) -> ProbePlan:
    probes = [p for p in (probe_for(c, seed) for c in checks) if p is not None]
    return ProbePlan(probes, cells or [], secrets.token_hex(16), list(contract), wall_s)


def student_plan(item: CodeItem, cells: list[list[int]], seed: int) -> ProbePlan:
    """A student's run: the checks' probes, the contract's names, the time limit."""
    names = [c.name for c in item.contract]
    return build_plan(item.checks, cells, seed, contract=names, wall_s=item.limits.wall_s)


def reference_plan(checks: list[Check], seeds: list[int]) -> ProbePlan:
    """Every invariant check once, every varied check once per seed of the pool."""
    probes: list[dict[str, Any]] = []
    for check in checks:
        if not check.uses_reference():
            continue
        names: list[tuple[int, str | None]] = [(seeds[0], None)] if not check.varied else []
        names += [(s, variant_id(check.name, k)) for k, s in enumerate(seeds) if check.varied]
        probes += [p for p in (probe_for(check, s, n) for s, n in names) if p is not None]
    return ProbePlan(probes, [], secrets.token_hex(16))


def variant_id(name: str, index: int) -> str:
    return f"{name}@{index}"


CHANNEL_BYTES = 8 * MiB


def limits_for(item: CodeItem | PredictItem) -> Limits:
    """The item's budget; CPU time follows wall time (one busy core at most). The channel
    carries a reference run's every seed: room for 8 x 3 observations of 3,072 values."""
    lim = item.limits
    return Limits(
        wall_s=lim.wall_s,
        cpu_s=lim.wall_s,
        memory_bytes=lim.memory_mb * MiB,
        gpu=GpuPolicy(lim.gpu),
        channel_bytes=CHANNEL_BYTES,
    )


def harness_request(
    source: str, plan: ProbePlan, limits: Limits, data: dict[str, bytes] | None = None
) -> RunRequest:
    """The sandbox request that runs `source` under the harness with this plan."""
    files = {
        **harness_files(),
        "submission.py": source.encode(),
        "plan.json": plan.to_json(),
        **(data or {}),
    }
    return RunRequest(argv=HARNESS_ARGV, files=files, stdin=plan.nonce.encode(), limits=limits)
