"""From checks to a probe plan: the probe each check becomes, where the run's seed goes (only into
checks whose inputs are drawn per run), probe ids, and the nonce kept out of the plan file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader.models import Check
from grader.probe.plan import build_plan, harness_request, probe_id, reference_plan
from sandbox.base import Limits

SEED = 7
DRAWS = {"function": "f", "args": [{"$randn": [2, 3]}, [{"$randint": [4], "high": 3}]]}
MODEL = {"m": {"$model": "resnet18"}}
HEAD = {"arch": "resnet18", "heads": {"fc": [5, 512]}}


def a_check(name: str = "c", expect: dict[str, Any] | None = None, **target: Any) -> Check:
    fields = {"name": name, "message": "m", "expect": expect or {"no_error": True}}
    return Check.model_validate(fields | target)


#: Each check's target and expectation, and the probe it becomes with the run's seed 7.
PROBES = {
    "eval": (
        {"eval": "model.fc"},
        {"kind": "eval", "expr": "model.fc"},
    ),
    "eval-seeded": (
        {"eval": "f(SEED)"},
        {"kind": "eval", "expr": "f(SEED)", "seed": SEED},
    ),
    "exec": (
        {"exec": "result = f()"},
        {"kind": "exec", "code": "result = f()"},
    ),
    "exec-seeded": (
        {"exec": "torch.manual_seed(SEED)\nresult = f()"},
        {"kind": "exec", "code": "torch.manual_seed(SEED)\nresult = f()", "seed": SEED},
    ),
    "attribute": (
        {"eval": "build()", "attribute": "fc.weight"},
        {"kind": "eval", "expr": "build()", "attribute": "fc.weight"},
    ),
    "call": (
        {"call": {"function": "f", "args": [[1, 2]], "kwargs": {"k": {"high": 3}}}},
        {"kind": "call", "function": "f", "args": [[1, 2]], "kwargs": {"k": {"high": 3}}},
    ),
    # Every draw gets its own seed, from the run's: args in order, then kwargs.
    "call-draws": (
        {"call": DRAWS | {"kwargs": MODEL}},
        {
            "kind": "call",
            "function": "f",
            "args": [{"$randn": [2, 3], "seed": 7}, [{"$randint": [4], "high": 3, "seed": 8}]],
            "kwargs": {"m": {"$model": "resnet18", "seed": 9}},
            "seed": SEED,
        },
    ),
    "conforms": (
        {"eval": "build()", "expect": {"conforms": HEAD | {"input": [1, 3, 8, 8]}}},
        {
            "kind": "eval",
            "expr": "build()",
            "seed": SEED,
            "capture": {"input": {"$randn": [1, 3, 8, 8], "seed": SEED}},
            "conforms": HEAD,
        },
    ),
    "step-rates": (
        {"eval": "pair()", "expect": {"step_rates": [[2, 0.01]]}},
        {"kind": "eval", "expr": "pair()", "seed": SEED, "capture": {"step": SEED}},
    ),
}


@pytest.mark.parametrize(("fields", "probe"), PROBES.values(), ids=PROBES.keys())
def test_a_check_becomes_one_probe_seeded_only_when_varied(
    fields: dict[str, Any], probe: dict[str, Any]
) -> None:
    check = a_check(**fields)
    planned = json.loads(build_plan([check], seed=SEED).to_json())  # as the observer reads it
    assert planned == {"probes": [{"id": "c", "attribute": ""} | probe], "cells": []}
    assert check.varied is ("seed" in probe)


@pytest.mark.parametrize(
    ("target", "probe"),
    [({"eval": "x"}, "c"), ({"exec": "result = 1"}, "c"), ({"call": {"function": "f"}}, "c"),
     ({}, "load")],
    ids=["eval", "exec", "call", "no-target-reads-the-load"],
)  # fmt: skip
def test_probe_ids(target: dict[str, Any], probe: str) -> None:
    check = a_check(**target)
    assert probe_id(check) == probe
    assert build_plan([check]).probe_ids == ([probe] if probe != "load" else [])


def test_the_plan_keeps_check_order_and_skips_checks_without_a_target() -> None:
    checks = [a_check("b", eval="1"), a_check("loads"), a_check("a", exec="result = 2")]
    assert build_plan(checks).probe_ids == ["b", "a"]


FROM_REFERENCE = {"value": {"from": "reference"}}


def test_the_reference_plan_runs_each_varied_check_once_per_seed() -> None:
    checks = [
        a_check("fixed", FROM_REFERENCE, eval="f()"),
        a_check("drawn", FROM_REFERENCE, call=DRAWS),
        a_check("own", {"value": 1}, eval="f(SEED)"),  # no reference value: not in its plan
    ]
    plan = reference_plan(checks, [11, 22])
    assert plan.probe_ids == ["fixed", "drawn@0", "drawn@1"]
    fixed, first, second = plan.probes
    assert "seed" not in fixed
    assert (first["seed"], first["args"][0]["seed"], first["args"][1][0]["seed"]) == (11, 11, 12)
    assert (second["seed"], second["args"][0]["seed"], second["args"][1][0]["seed"]) == (22, 22, 23)


def test_the_nonce_goes_on_stdin_never_into_a_file() -> None:
    """The runner can read the plan file; only the observer reads stdin."""
    checks = [a_check("c", eval="f(SEED)")]
    plan, again = build_plan(checks, seed=SEED), build_plan(checks, seed=SEED)
    assert len(plan.nonce) == 32 and plan.nonce != again.nonce
    assert plan.content_key() == again.content_key()  # what is cached ignores the nonce
    request = harness_request("x = 1", plan, Limits(), {"data.bin": b"\0"})
    assert request.stdin == plan.nonce.encode()
    assert request.files["plan.json"] == plan.to_json()
    assert not [name for name, data in request.files.items() if plan.nonce.encode() in data]


@pytest.mark.parametrize(
    ("target", "changes"),
    [({"eval": "f(SEED)"}, True), ({"eval": "f()"}, False)],
    ids=["varied", "invariant"],
)
def test_only_a_varied_plan_depends_on_the_seed(target: dict[str, Any], changes: bool) -> None:
    one, other = build_plan([a_check(**target)], seed=1), build_plan([a_check(**target)], seed=2)
    assert (one.content_key() != other.content_key()) is changes
