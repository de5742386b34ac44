"""Turn an item's checks into a probe plan: what to run and observe, never what to expect."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from grader.models import Check, CodeItem, PredictItem
from grader.observations import LOAD
from sandbox.base import GpuPolicy, Limits, MiB, RunRequest
from sandbox.harness import HARNESS_PATH


@dataclass(frozen=True)
class ProbePlan:
    """Probes in check order; `nonce` marks this run's observations."""

    probes: list[dict[str, Any]]
    cells: list[list[int]]
    nonce: str

    def to_json(self) -> bytes:
        body = {"nonce": self.nonce, "probes": self.probes, "cells": self.cells}
        return json.dumps(body).encode()

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


def probe_for(check: Check) -> dict[str, Any] | None:
    probe: dict[str, Any] = {"id": check.name, "attribute": check.attribute or ""}
    if check.eval is not None:
        return probe | {"kind": "eval", "expr": check.eval}
    if check.exec is not None:
        return probe | {"kind": "exec", "code": check.exec}
    if check.call is not None:
        return probe | {"kind": "call", **check.call.model_dump(mode="json")}
    return None


def build_plan(checks: list[Check], cells: list[list[int]] | None = None) -> ProbePlan:
    probes = [p for p in map(probe_for, checks) if p is not None]
    return ProbePlan(probes, cells or [], secrets.token_hex(16))


def limits_for(item: CodeItem | PredictItem) -> Limits:
    """The item's budget; CPU time follows wall time (one busy core at most)."""
    lim = item.limits
    return Limits(
        wall_s=lim.wall_s,
        cpu_s=lim.wall_s,
        memory_bytes=lim.memory_mb * MiB,
        gpu=GpuPolicy(lim.gpu),
    )


def harness_request(
    source: str, plan: ProbePlan, limits: Limits, data: dict[str, bytes] | None = None
) -> RunRequest:
    """The sandbox request that runs `source` under the harness with this plan."""
    files = {
        "harness.py": HARNESS_PATH.read_bytes(),
        "submission.py": source.encode(),
        "plan.json": plan.to_json(),
        **(data or {}),
    }
    return RunRequest(argv=("python", "-I", "harness.py"), files=files, limits=limits)
