"""Parse what a sandbox sent back on the observation channel, strictly.

The channel is written by the observer, which never runs student code, but what it carries was
derived from the runner's data, and a broken run can cut it anywhere: so it is untrusted here too.
Every line must be a JSON object (size and depth capped, finite numbers only) with the run's nonce,
naming a probe of the plan once, in the shape `ChannelRecord` allows, and the run must end with
`done`. Anything else raises `ChannelError`, and the grade fails closed (a failed submission, and
the report says why; never a grader error). `running` lines (where the student's code was, from
the runner's watchdog) may come any number of times before `done`; the last one is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import ChannelError
from grader.probe.summaries import Observation, Running

LOAD = "load"
#: One channel line; the observer keeps observations far below this.
LINE_CAP = 4 * 1024 * 1024
#: Nesting an observation may have (the observer's own is below 60).
DEPTH_CAP = 64


ParamKind = Literal[
    "POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "KEYWORD_ONLY", "VAR_KEYWORD"
]


class DefinitionRecord(BaseModel):
    """A name the submission defines, as the runner says (feedback only)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: str
    callable: bool
    params: list[tuple[str, ParamKind, bool]] | None = None


class ObservationRecord(BaseModel):
    """One probe's observation: what the target gave (result), raised (error), or that the
    runner's data could not be read (unreadable); what it printed (stderr only when it printed
    there). The load's also lists the names the submission defines."""

    model_config = ConfigDict(extra="forbid")
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    unreadable: str | None = None
    stdout: str = ""
    stderr: str | None = None
    defines: list[DefinitionRecord] | None = None


class RunningRecord(BaseModel):
    """Where the student's code was at the watchdog's sample (feedback only)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    probe: str
    line: int | None = None
    cell: int | None = None
    code: str = ""
    function: str = ""
    stdout: str = ""


class ChannelRecord(BaseModel):
    """A channel line: a probe's observation, a watchdog sample, or the end of the run."""

    model_config = ConfigDict(extra="forbid")
    nonce: str
    probe: str | None = None
    observation: ObservationRecord | None = None
    running: RunningRecord | None = None
    done: bool | None = None


@dataclass
class Observations:
    """Observations by probe id, and whether the harness reached its end."""

    by_probe: dict[str, Observation] = field(default_factory=dict)
    done: bool = False
    #: The watchdog's last sample: where the student's code was, as the runner said.
    running: Running | None = None

    def get(self, probe_id: str) -> Observation | None:
        return self.by_probe.get(probe_id)

    def unreadable(self) -> str | None:
        """Why the runner's data could not be read, if it could not."""
        for found in self.by_probe.values():
            if found.get("unreadable"):
                return str(found["unreadable"])
        return None


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


def _record(line: str, number: int, nonce: str) -> ChannelRecord:
    if len(line) > LINE_CAP:
        raise ChannelError(f"observation line {number} is too long")
    try:
        loaded = json.loads(line, parse_constant=_no_constant)
        if line.count("[") + line.count("{") > DEPTH_CAP:  # else it cannot be nested that deep
            _depth(loaded)
        record = ChannelRecord.model_validate(loaded)
    except (ValueError, RecursionError, ValidationError) as exc:
        raise ChannelError(f"observation line {number} is not a valid record") from exc
    if record.nonce != nonce:
        raise ChannelError(f"observation line {number} does not carry this run's nonce")
    return record


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _depth(value: Any) -> None:
    """Iteratively (a deep line must not exhaust the host's stack)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > DEPTH_CAP:
            raise ValueError("nested too deep")
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)


def _take(found: Observations, record: ChannelRecord, number: int, allowed: set[str]) -> None:
    if found.done:
        raise ChannelError(f"observation line {number} comes after the end of the run")
    if record.running is not None:
        if record.probe is not None or record.observation is not None or record.done is not None:
            raise ChannelError(f"observation line {number} has unexpected fields")
        found.running = _running(record.running, number, allowed)
        return
    if record.done is True and record.probe is None and record.observation is None:
        found.done = True
        return
    if record.probe is None or record.observation is None or record.done is not None:
        raise ChannelError(f"observation line {number} has unexpected fields")
    if record.probe not in allowed:
        raise ChannelError(f"observation line {number} names an unknown probe")
    if record.probe in found.by_probe:
        raise ChannelError(f"probe {record.probe!r} was observed twice")
    # The record was validated above; its `result` and `error` are read as the observer's
    # summaries (typed views, not validated further: see `grader.probe.summaries`).
    found.by_probe[record.probe] = cast(
        Observation, record.observation.model_dump(exclude_none=True)
    )


def _running(record: RunningRecord, number: int, allowed: set[str]) -> Running:
    if record.probe not in allowed:
        raise ChannelError(f"observation line {number} names an unknown probe")
    return cast(Running, record.model_dump())
