"""Read the harness's value summaries back as plain values and short texts for messages."""

from __future__ import annotations

import json
from typing import Any

SHORT = 160


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


def describe_error(error: dict[str, Any]) -> str:
    """`NameError: name 'x' is not defined (cell 2, line 5: print(x))` from an error summary."""
    kind = str(error.get("type", "an exception")).rsplit(".", 1)[-1]
    text = f"{kind}: {short(str(error.get('message', '')))}"
    frames = error.get("frames") or []
    if frames:
        last = frames[-1]
        cell = f"cell {last['cell']}, " if last.get("cell") else ""
        text += f" ({cell}line {last.get('line')}: {short(str(last.get('code', '')))})"
    return text
