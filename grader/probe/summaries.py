"""Read the harness's value summaries back as plain values and short texts for messages.

The shapes below are what the observer writes (`grader/probe/harness/derive.py` and
`observer.py`): typed views for the host's readers, not validation. The channel checks only the
envelope (`grader.probe.channel.ObservationRecord`: a `result` and an `error` that are JSON
objects, `unreadable` and `stdout` strings), and the run it came from is untrusted, so a reader
still checks what it relies on (`isinstance`, `.get` with a default) before using it.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

SHORT = 160


class Frame(TypedDict, total=False):
    """One frame of a traceback, in the student's code (`cell` in a notebook). A syntax error's
    one frame also has the columns it spans on `code` (1-based; `end_column` when known)."""

    line: int | None
    cell: int | None
    code: str
    function: str
    column: int | None
    end_column: int | None


class Running(TypedDict, total=False):
    """The runner watchdog's sample: the probe running and where the student's code was
    (`line` None when it was not in the student's code), and what the probe printed so far."""

    probe: str
    line: int | None
    cell: int | None
    code: str
    function: str
    stdout: str


class Definition(TypedDict, total=False):
    """A name the submission defines: its kind (`function`, `class` or a type name), whether
    it is callable, and its parameters as [name, inspect kind name, has a default]."""

    name: str
    type: str
    callable: bool
    params: list[list[Any]]


class ErrorSummary(TypedDict, total=False):
    """What the target raised: its class and its MRO by name, its message, the last frames."""

    type: str
    mro: list[str]
    message: str
    frames: list[Frame]


class Conformance(TypedDict, total=False):
    """`conforms`: whether the runner's model is the item's architecture (proven in the
    observer), why not, and what its forward gave."""

    ok: bool
    why: str
    output_shape: list[int]
    max_abs_diff: Any  # a float, or {"$float": "nan"} when not finite


class ValueSummary(TypedDict, total=False):
    """A value as the observer summarised it. Every one has `type` and `mro`; the rest depends
    on the kind, as marked."""

    type: str
    mro: list[str]
    #: None, bool, int, float, str: the value (a float not finite as {"$float": "inf"}); a
    #: torch.Size: its dimensions; a torch.dtype: its name.
    value: Any
    #: Tensors.
    shape: list[int]
    dtype: str
    device: str
    requires_grad: bool
    values: list[Any]  # flattened, when small enough to send; floats as in `value`
    #: list and tuple (a list of summaries, `length` the true length), dict (by key).
    items: list[ValueSummary] | dict[str, ValueSummary]
    length: int
    #: Any other object.
    repr: str
    #: torch.nn.Module.
    trainable: list[str]
    frozen_count: int
    parameters: int
    training: bool
    structure: list[list[str]]
    output: ValueSummary  # a model run on the probe's input: what its forward returned
    #: Added to the result by the probe's capture: [[count, rate], ...] or why not; `conforms`.
    step_rates: list[list[Any]] | str
    conforms: Conformance


class Observation(TypedDict, total=False):
    """One probe's observation on the host: what the target gave (`result`) or raised
    (`error`), or why the runner's data could not be read (`unreadable`); what it printed
    (`stderr` only when it printed there). The load's lists the names the submission defines
    (`defines`)."""

    result: ValueSummary
    error: ErrorSummary
    unreadable: str
    stdout: str
    stderr: str
    defines: list[Definition]


def plain(summary: Any) -> Any:
    """A summary as a plain value: tensors as nested values lists, dicts and lists recursively."""
    if not isinstance(summary, dict):
        return summary
    if "values" in summary:
        values = _floats(summary["values"])
        return values[0] if summary.get("shape") == [] and len(values) == 1 else values
    if "items" in summary:
        items = summary["items"]
        if isinstance(items, dict):
            return {k: plain(v) for k, v in items.items()}
        return [plain(v) for v in items]
    if "value" in summary:
        return _floats(summary["value"])
    return summary.get("repr", summary.get("type"))


def _floats(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$float"}:
        return float(value["$float"])
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def short(value: Any) -> str:
    """A one-line rendering, cut to a readable length."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= SHORT else text[: SHORT - 3] + "..."


def describe_error(error: ErrorSummary) -> str:
    """`NameError: name 'x' is not defined (cell 2, line 5: print(x))` from an error summary."""
    kind = str(error.get("type", "an exception")).rsplit(".", 1)[-1]
    text = f"{kind}: {short(str(error.get('message', '')))}"
    frames = error.get("frames") or []
    if frames:
        last = frames[-1]
        cell = f"cell {last['cell']}, " if last.get("cell") else ""
        text += f" ({cell}line {last.get('line')}: {short(str(last.get('code', '')))})"
    return text


def is_syntax_error(error: ErrorSummary) -> bool:
    return "SyntaxError" in (error.get("mro") or [])


def describe_syntax_error(error: ErrorSummary) -> str:
    """`SyntaxError at cell 2, line 6: invalid syntax`, then the line and a caret under the
    column, as Python shows it (from the error's one frame: see the runner's `syntax_frame`)."""
    frames = error.get("frames") or []
    place: Frame = frames[-1] if frames else {}
    kind = str(error.get("type", "SyntaxError")).rsplit(".", 1)[-1]
    head = f"{kind} at {where(place)}: {short(str(error.get('message', '')))}"
    code, column = str(place.get("code") or ""), place.get("column")
    if not code or not isinstance(column, int):
        return head
    return "\n".join([head, f"    {code}", f"    {caret(code, column, place.get('end_column'))}"])


def where(place: Frame | Running) -> str:
    """`cell 2, line 6` in a notebook, `line 6` in a .py."""
    cell = place.get("cell")
    return (f"cell {cell}, " if cell else "") + f"line {place.get('line')}"


def caret(code: str, column: int, end: int | None) -> str:
    """Carets under columns [column, end) of `code` (1-based), one at least."""
    start = min(max(column, 1), len(code) + 1)
    stop = end if isinstance(end, int) and end > start else start + 1
    return " " * (start - 1) + "^" * max(1, min(stop, len(code) + 1) - start)
