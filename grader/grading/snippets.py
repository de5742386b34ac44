"""Run an author's snippet in a sandbox and keep what it printed or raised, cached by content.

Predict items take their key from this (the key is computed, never typed by hand), and mcq
`verify` snippets prove their key with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader.errors import ChannelError, SnippetFailed
from grader.files import read_json, write_whole
from grader.probe.channel import LOAD, parse_channel
from grader.probe.harness import harness_digest
from grader.probe.plan import ProbePlan, harness_request
from grader.probe.summaries import Observation
from grader.settings import GraderSettings
from sandbox.base import Limits, MiB, Sandbox
from sandbox.packages import PINS as RUNTIME_PINS

SNIPPET_LIMITS = Limits(wall_s=60, cpu_s=60, memory_bytes=2048 * MiB)


def default_cache_dir() -> Path:
    return GraderSettings().snippet_cache


def run_snippet(
    sandbox: Sandbox, code: str, limits: Limits = SNIPPET_LIMITS, cache: Path | None = None
) -> Observation:
    """The load observation of `code`: {"stdout": ..., "error"?: {...}}, cached by the code,
    the harness and the pinned runtime (an upgrade recomputes every key)."""
    folder = cache or default_cache_dir()
    parts = [code, harness_digest(), RUNTIME_PINS.read_text()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
    cached = folder / f"{key}.json"
    stored: Observation | None = read_json(cached)
    if isinstance(stored, dict):
        return stored
    observation = _observe(sandbox, code, limits)
    folder.mkdir(parents=True, exist_ok=True)
    write_whole(cached, json.dumps(observation).encode())
    return observation


def _observe(sandbox: Sandbox, code: str, limits: Limits) -> Observation:
    plan = ProbePlan([], [], "snippet")
    result = sandbox.run(harness_request(code, plan, limits))
    try:
        observation = parse_channel(result.channel, plan.nonce, []).get(LOAD)
    except ChannelError as exc:
        raise SnippetFailed(f"snippet run failed: {exc}") from exc
    if observation is None:
        tail = result.stderr.decode(errors="replace")[-300:]
        raise SnippetFailed(f"snippet produced no observation (exit {result.exit_code}): {tail}")
    return observation
