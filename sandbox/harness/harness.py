"""Runs a submission and a probe plan, and writes observations to the channel (never stdout).

Runs inside the sandbox with the runtime's python; standard library only (torch is imported when
the submission or a probe needs it). The plan holds no expected values: it says what to run and
what to observe. Every line on the channel is a JSON object carrying the run's nonce:
    {"nonce": N, "probe": ID, "observation": {...}}   one per probe, in plan order
    {"nonce": N, "done": true}                         after the last probe
The host judges; anything missing, duplicated or malformed fails closed there.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import traceback
from typing import Any

SUBMISSION = "submission.py"
STDOUT_CAP = 64 * 1024
ITEMS_CAP = 64
VALUES_CAP = 4096
TEXT_CAP = 4000


class Channel:
    """The observation channel named by SANDBOX_CHANNEL: `fd:N` or a file path."""

    def __init__(self, spec: str, nonce: str) -> None:
        self.nonce = nonce
        fd = int(spec[3:]) if spec.startswith("fd:") else os.open(spec, os.O_WRONLY | os.O_CREAT)
        self.stream = os.fdopen(fd, "w", encoding="utf-8", closefd=True)

    def send(self, **fields: Any) -> None:
        line = json.dumps({"nonce": self.nonce, **fields}, allow_nan=False, default=str)
        self.stream.write(line + "\n")
        self.stream.flush()


class Capped(io.StringIO):
    """stdout captured for observation, keeping only the first STDOUT_CAP characters."""

    def write(self, text: str) -> int:
        room = STDOUT_CAP - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


def qualname(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def number(value: float) -> Any:
    return value if math.isfinite(value) else {"$float": repr(value)}


def describe(value: Any, depth: int = 0) -> dict[str, Any]:
    """A JSON-safe summary of a value: its type, and what can be judged about it."""
    kind = type(value)
    summary: dict[str, Any] = {"type": qualname(kind), "mro": [qualname(k) for k in kind.__mro__]}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        summary.update(tensor_summary(value))
    elif torch is not None and isinstance(value, torch.nn.Module):
        summary.update(module_summary(value))
    elif torch is not None and isinstance(value, torch.Size):
        summary["value"] = list(value)
    elif torch is not None and isinstance(value, torch.dtype):
        summary["value"] = str(value)
    elif isinstance(value, bool) or value is None or isinstance(value, int):
        summary["value"] = value
    elif isinstance(value, float):
        summary["value"] = number(value)
    elif isinstance(value, str):
        summary["value"] = value[:TEXT_CAP]
    elif isinstance(value, dict) and depth < 3:
        items = list(value.items())[:ITEMS_CAP]
        summary["items"] = {str(k): describe(v, depth + 1) for k, v in items}
    elif isinstance(value, (list, tuple)) and depth < 3:
        summary["items"] = [describe(v, depth + 1) for v in value[:ITEMS_CAP]]
        summary["length"] = len(value)
    else:
        summary["repr"] = repr(value)[:TEXT_CAP]
    return summary


def tensor_summary(tensor: Any) -> dict[str, Any]:
    data = tensor.detach()
    out: dict[str, Any] = {
        "shape": list(data.shape),
        "dtype": str(data.dtype).removeprefix("torch."),
        "device": str(data.device),
        "requires_grad": bool(tensor.requires_grad),
    }
    if data.numel() <= VALUES_CAP and not data.is_complex():
        out["values"] = [number(float(x)) for x in data.cpu().double().flatten().tolist()]
    return out


def module_summary(module: Any) -> dict[str, Any]:
    params = list(module.named_parameters())
    return {
        "trainable": [name for name, p in params if p.requires_grad][:VALUES_CAP],
        "frozen_count": sum(1 for _, p in params if not p.requires_grad),
        "parameters": len(params),
        "training": bool(module.training),
        "structure": [[name, qualname(type(m))] for name, m in module.named_modules()][:512],
    }


def error_summary(exc: BaseException, cells: list[list[int]]) -> dict[str, Any]:
    """The exception, with only the submission's own frames (the student's traceback lines)."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SUBMISSION:
            cell, line = cell_of(frame.lineno, cells)
            frames.append(
                {
                    "line": line,
                    "cell": cell,
                    "code": (frame.line or "")[:200],
                    "function": frame.name,
                }
            )
    kind = type(exc)
    return {
        "type": qualname(kind),
        "mro": [qualname(k) for k in kind.__mro__],
        "message": str(exc)[:TEXT_CAP],
        "frames": frames[-8:],
    }


def cell_of(line: int | None, cells: list[list[int]]) -> tuple[int | None, int | None]:
    """(notebook cell, line within it) for a line of the joined source; (None, line) for .py."""
    for first, last, index in cells:
        if line is not None and first <= line <= last:
            return index, line - first + 1
    return None, line


def decode(arg: Any) -> Any:
    """Probe arguments: plain JSON, or {"$tensor": data, "dtype": d}, {"$zeros": shape},
    {"$image": [w, h], "seed": s} (a PIL RGB image), {"$model": name} (a torchvision model,
    weights=None), {"$expr": text} (evaluated with torch in scope)."""
    if isinstance(arg, list):
        return [decode(a) for a in arg]
    if not isinstance(arg, dict):
        return arg
    if "$tensor" in arg:
        import torch

        return torch.tensor(arg["$tensor"], dtype=getattr(torch, arg.get("dtype", "float32")))
    if "$zeros" in arg:
        import torch

        return torch.zeros(*arg["$zeros"])
    if "$image" in arg:
        return random_image(arg["$image"], arg.get("seed", 0))
    if "$model" in arg:
        from torchvision import models

        return getattr(models, arg["$model"])(weights=None)
    if "$expr" in arg:
        return evaluate(arg["$expr"], {})
    return {k: decode(v) for k, v in arg.items()}


def random_image(size: list[int], seed: int) -> Any:
    import random

    from PIL import Image

    rng = random.Random(seed)
    width, height = size
    pixels = bytes(rng.randrange(256) for _ in range(width * height * 3))
    return Image.frombytes("RGB", (width, height), pixels)


def evaluate(expr: str, namespace: dict[str, Any]) -> Any:
    scope = dict(namespace)
    with contextlib.suppress(ImportError):
        import torch

        scope.setdefault("torch", torch)
        scope.setdefault("nn", torch.nn)
    exec(compile(expr, "<probe>", "exec"), scope)  # noqa: S102 - authored probe code
    return scope.get("result")


def run_probe(probe: dict[str, Any], namespace: dict[str, Any]) -> Any:
    value = run_target(probe, namespace)
    for part in filter(None, probe.get("attribute", "").split(".")):
        value = getattr(value, part)
    return value


def run_target(probe: dict[str, Any], namespace: dict[str, Any]) -> Any:
    kind = probe["kind"]
    if kind == "eval":
        return evaluate(f"result = ({probe['expr']})", namespace)
    if kind == "exec":
        return evaluate(probe["code"], namespace)
    if kind == "call":
        function = namespace[probe["function"]]
        args = [decode(a) for a in probe.get("args", [])]
        kwargs = {k: decode(v) for k, v in probe.get("kwargs", {}).items()}
        return function(*args, **kwargs)
    raise ValueError(f"unknown probe kind {kind!r}")


def observe(
    probe: dict[str, Any], namespace: dict[str, Any], cells: list[list[int]]
) -> dict[str, Any]:
    out = Capped()
    observation: dict[str, Any] = {}
    try:
        with contextlib.redirect_stdout(out):
            observation["result"] = describe(run_probe(probe, namespace))
    except BaseException as exc:  # noqa: BLE001 - whatever the student's code raised is data
        observation["error"] = error_summary(exc, cells)
    observation["stdout"] = out.getvalue()
    return observation


def load_submission(namespace: dict[str, Any], cells: list[list[int]]) -> dict[str, Any]:
    with open(SUBMISSION, encoding="utf-8") as handle:
        source = handle.read()
    out = Capped()
    observation: dict[str, Any] = {}
    try:
        code = compile(source, SUBMISSION, "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # noqa: S102 - this is what a sandbox is for
        observation["result"] = {"type": "module", "mro": ["module"]}
    except BaseException as exc:  # noqa: BLE001
        observation["error"] = error_summary(exc, cells)
    observation["stdout"] = out.getvalue()
    return observation


def main() -> None:
    with open("plan.json", encoding="utf-8") as handle:
        plan = json.load(handle)
    os.remove("plan.json")
    channel = Channel(os.environ.pop("SANDBOX_CHANNEL"), plan["nonce"])
    cells = plan.get("cells", [])
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": SUBMISSION}
    loaded = load_submission(namespace, cells)
    channel.send(probe="load", observation=loaded)
    for probe in plan["probes"]:
        if "error" in loaded:
            break
        channel.send(probe=probe["id"], observation=observe(probe, namespace, cells))
    channel.send(done=True)


if __name__ == "__main__":
    main()
