"""Parse what a sandbox sent back on the observation channel, strictly.

The channel is untrusted: every line must be a JSON object with the run's nonce, naming a probe
of the plan once, and the run must end with `done`. Anything else raises `ChannelError`, and the
grade fails closed (the submission does not pass, and the report says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LOAD = "load"


class ChannelError(Exception):
    """Raised when the observation channel is malformed, forged, duplicated or cut short."""


@dataclass
class Observations:
    """Observations by probe id, and whether the harness reached its end."""

    by_probe: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: bool = False

    def get(self, probe_id: str) -> dict[str, Any] | None:
        return self.by_probe.get(probe_id)


def parse_channel(raw: bytes, nonce: str, probe_ids: Iterable[str]) -> Observations:
    """Observations from the channel bytes; `ChannelError` on anything unexpected."""
    allowed = {LOAD, *probe_ids}
    found = Observations()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChannelError("observation channel is not UTF-8") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            _take(found, _record(line, number, nonce), number, allowed)
    return found


def _record(line: str, number: int, nonce: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ChannelError(f"observation line {number} is not JSON") from exc
    if not isinstance(record, dict):
        raise ChannelError(f"observation line {number} is not an object")
    if record.get("nonce") != nonce:
        raise ChannelError(f"observation line {number} does not carry this run's nonce")
    return record


def _take(found: Observations, record: dict[str, Any], number: int, allowed: set[str]) -> None:
    if found.done:
        raise ChannelError(f"observation line {number} comes after the end of the run")
    if record.get("done") is True and set(record) == {"nonce", "done"}:
        found.done = True
        return
    probe, observation = record.get("probe"), record.get("observation")
    if set(record) != {"nonce", "probe", "observation"} or not isinstance(observation, dict):
        raise ChannelError(f"observation line {number} has unexpected fields")
    if probe not in allowed:
        raise ChannelError(f"observation line {number} names an unknown probe")
    if probe in found.by_probe:
        raise ChannelError(f"probe {probe!r} was observed twice")
    found.by_probe[str(probe)] = observation
