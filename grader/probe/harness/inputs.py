"""Probe arguments, decoded the same way by the runner and by the observer.

Plain JSON, or {"$tensor": data, "dtype": d}, {"$zeros": shape}, {"$image": [w, h], "seed": s}
(a PIL RGB image), {"$model": name} (a torchvision model, weights=None), {"$expr": text}
(evaluated with torch in scope; runner only), and seeded draws the host fills in per run:
{"$randn": shape, "seed": s, "scale": x}, {"$randint": shape, "high": h, "low": l, "seed": s}.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any


def decode(arg: Any, evaluate: Any = None) -> Any:
    if isinstance(arg, list):
        return [decode(a, evaluate) for a in arg]
    if not isinstance(arg, dict):
        return arg
    if "$expr" in arg:
        if evaluate is None:
            raise ValueError("an $expr input is decoded in the runner only")
        return evaluate(arg["$expr"], {})
    for key, make in MAKERS.items():
        if key in arg:
            return make(arg)
    return {k: decode(v, evaluate) for k, v in arg.items()}


def _tensor(arg: dict[str, Any]) -> Any:
    import torch

    return torch.tensor(arg["$tensor"], dtype=getattr(torch, arg.get("dtype", "float32")))


def _zeros(arg: dict[str, Any]) -> Any:
    import torch

    return torch.zeros(*arg["$zeros"])


def _generator(arg: dict[str, Any]) -> Any:
    import torch

    return torch.Generator().manual_seed(int(arg.get("seed", 0)))


def _randn(arg: dict[str, Any]) -> Any:
    import torch

    return float(arg.get("scale", 1.0)) * torch.randn(*arg["$randn"], generator=_generator(arg))


def _randint(arg: dict[str, Any]) -> Any:
    import torch

    low, high = int(arg.get("low", 0)), int(arg["high"])
    return torch.randint(low, high, tuple(arg["$randint"]), generator=_generator(arg))


def _image(arg: dict[str, Any]) -> Any:
    from PIL import Image

    width, height = arg["$image"]
    pixels = random.Random(arg.get("seed", 0)).randbytes(width * height * 3)
    return Image.frombytes("RGB", (width, height), pixels)


def _model(arg: dict[str, Any]) -> Any:
    from torchvision import models

    with contextlib.suppress(KeyError):
        import torch

        torch.manual_seed(int(arg["seed"]))
    return getattr(models, arg["$model"])(weights=None)


MAKERS = {
    "$tensor": _tensor,
    "$zeros": _zeros,
    "$randn": _randn,
    "$randint": _randint,
    "$image": _image,
    "$model": _model,
}
