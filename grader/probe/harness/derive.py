"""The observer's judgement-free work: validated wire values -> observations for the host.

Everything here reads data the runner sent (untrusted) and computes the observation itself:
shapes, dtypes and values from tensor bytes, trainable parameters from the parameter list, and
`conforms` by building the torchvision architecture here, loading the runner's state_dict into it
strictly and comparing this model's forward with the runner's. A field of the wrong type or out of
bounds raises `WireError`; the observer turns that into an unreadable-output observation.
"""

from __future__ import annotations

import math
from typing import Any

from wire import DTYPES, ITEMS_CAP, NUMPY_NUMBERS, TEXT_CAP, VALUES_CAP, WireError, signs  # type: ignore[import-not-found,unused-ignore]

SCALARS = {
    "none": ("NoneType", ["NoneType", "object"]),
    "bool": ("bool", ["bool", "int", "object"]),
    "int": ("int", ["int", "object"]),
    "float": ("float", ["float", "object"]),
    "str": ("str", ["str", "object"]),
}


def need(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"{what} has the wrong type")
    return value


def text(value: Any, what: str) -> str:
    found: str = need(value, str, what)
    return found[:TEXT_CAP]


def names(value: Any, what: str) -> list[str]:
    return [text(n, what) for n in need(value, list, what)[:32]]


def number(value: float) -> Any:
    return value if math.isfinite(value) else {"$float": repr(value)}


def numpy_mro(kind: str) -> list[str]:
    """numpy's own class chain for one of its number classes, as `type.mro` gives it."""
    name = kind.removeprefix("numpy.")
    middle = []
    if name.startswith("float"):
        middle = ["numpy.floating", "numpy.inexact", "numpy.number"]
    elif name.startswith(("int", "uint")):
        signed = "numpy.unsignedinteger" if name.startswith("uint") else "numpy.signedinteger"
        middle = [signed, "numpy.integer", "numpy.number"]
    tail = ["float"] if name == "float64" else []  # numpy.float64 subclasses float
    return [kind, *middle, "numpy.generic", *tail, "object"]


class Reader:
    """Observations from one frame's values; tensors are read from its blob."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    @property
    def torch(self) -> Any:
        """torch, once a tensor needs it (imported from the runtime, never from the workdir)."""
        import torch

        return torch

    def observe(self, enc: Any) -> dict[str, Any]:
        tag = need(need(enc, dict, "a value").get("t"), str, "a value's tag")
        if tag in SCALARS:
            return self.scalar(tag, enc)
        if tag in ("list", "tuple"):
            items = [self.observe(v) for v in need(enc.get("items"), list, "items")[:ITEMS_CAP]]
            length = need(enc.get("length"), int, "length")
            return {"type": tag, "mro": [tag, "object"], "items": items, "length": length}
        if tag == "dict":
            pairs = need(enc.get("items"), list, "items")[:ITEMS_CAP]
            by_key = {text(need(p, list, "a pair")[0], "key"): self.observe(p[1]) for p in pairs}
            return {"type": "dict", "mro": ["dict", "object"], "items": by_key}
        if tag == "tensor":
            return self.tensor_observation(enc)
        if tag == "size":
            dims = [need(n, int, "a dimension") for n in need(enc.get("v"), list, "size")[:64]]
            return {"type": "torch.Size", "mro": ["torch.Size", "tuple", "object"], "value": dims}
        if tag == "dtype":
            return {
                "type": "torch.dtype",
                "mro": ["torch.dtype", "object"],
                "value": text(enc.get("v"), "dtype"),
            }
        if tag == "module":
            return self.module(enc)
        if tag == "step_run":
            return {"type": "tuple", "mro": ["tuple", "object"], "length": 2}
        if tag == "model_run":
            found = self.module(need(enc.get("module"), dict, "module"))
            return found | {"output": self.observe(enc.get("output"))}
        if tag == "object":
            kind = text(enc.get("class"), "class")
            return {
                "type": kind,
                "mro": names(enc.get("mro"), "mro"),
                "repr": text(enc.get("repr"), "repr"),
            }
        raise WireError(f"unknown value tag {tag[:40]!r}")

    def scalar(self, tag: str, enc: dict[str, Any]) -> dict[str, Any]:
        kind, chain = SCALARS[tag]
        if "class" in enc:  # a numpy scalar: its number, its own class
            kind = text(enc["class"], "class")
            if NUMPY_NUMBERS.get(kind) != tag:
                raise WireError(f"a {tag} cannot be a {kind[:40]}")
            chain = numpy_mro(kind)
        out: dict[str, Any] = {"type": kind, "mro": chain}
        if tag == "none":
            out["value"] = None
        elif tag == "float":
            raw = enc.get("v")
            if isinstance(raw, str) and raw in ("inf", "-inf", "nan"):
                out["value"] = {"$float": raw}
            else:
                out["value"] = number(float(need(raw, (int, float), "a float")))
        elif tag == "str":
            out["value"] = text(enc.get("v"), "a string")
        else:
            out["value"] = need(enc.get("v"), bool if tag == "bool" else int, f"an {tag}")
        return out

    def tensor(self, enc: Any) -> Any:
        """The tensor itself (None when only its shape was sent)."""
        dtype = need(enc.get("dtype"), str, "dtype")
        shape = [need(n, int, "a dimension") for n in need(enc.get("shape"), list, "shape")[:16]]
        if any(n < 0 for n in shape) or dtype not in DTYPES or enc.get("data") is None:
            return None
        offset, size = (need(n, int, "data") for n in need(enc["data"], list, "data")[:2])
        if offset < 0 or size != math.prod(shape) * DTYPES[dtype] or offset + size > len(self.blob):
            raise WireError("tensor bytes do not match its shape")
        raw = bytearray(self.blob[offset : offset + size])
        torch = self.torch
        flat = (
            torch.frombuffer(raw, dtype=torch.uint8) if size else torch.empty(0, dtype=torch.uint8)
        )
        return flat.view(getattr(torch, dtype)).reshape(shape)

    def tensor_observation(self, enc: dict[str, Any]) -> dict[str, Any]:
        shape = [need(n, int, "a dimension") for n in need(enc.get("shape"), list, "shape")[:16]]
        out: dict[str, Any] = {
            "type": text(enc.get("class"), "class"),
            "mro": names(enc.get("mro"), "mro"),
            "shape": shape,
            "dtype": text(enc.get("dtype"), "dtype"),
            "device": text(enc.get("device"), "device"),
            "requires_grad": need(enc.get("requires_grad"), bool, "requires_grad"),
        }
        data = self.tensor(enc)
        if data is not None and data.numel() <= VALUES_CAP:
            out["values"] = [number(float(x)) for x in data.double().flatten().tolist()]
        return out

    def module(self, enc: dict[str, Any]) -> dict[str, Any]:
        params = need(enc.get("params"), list, "params")[:ITEMS_CAP]
        rows = [
            (text(need(p, list, "a parameter")[0], "name"), need(p[2], bool, "requires_grad"))
            for p in params
        ]
        structure = [
            [text(m[0], "name"), text(m[1], "class")]
            for m in need(enc.get("modules"), list, "modules")[:512]
        ]
        return {
            "type": text(enc.get("class"), "class"),
            "mro": names(enc.get("mro"), "mro"),
            "trainable": [name for name, grad in rows if grad],
            "frozen_count": sum(1 for _, grad in rows if not grad),
            "parameters": len(rows),
            "training": need(enc.get("training"), bool, "training"),
            "structure": structure,
        }


def conforms(reader: Reader, spec: dict[str, Any], enc: Any, inputs: Any) -> dict[str, Any]:
    """Does the runner's model, as data, equal the torchvision architecture the item names?"""
    if not isinstance(enc, dict) or enc.get("t") != "model_run":
        return {"ok": False, "why": "the value is not a torch.nn.Module"}
    torch = reader.torch
    state = {
        text(p[0], "name"): reader.tensor(need(p[1], dict, "tensor"))
        for p in need(enc.get("state"), list, "state")
    }
    if any(v is None for v in state.values()):
        return {"ok": False, "why": "the state_dict holds a tensor that cannot be read"}
    net = build(torch, spec)
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        return {"ok": False, "why": _first_line(exc)}
    if any(t.is_meta for t in [*net.parameters(), *net.buffers()]):
        return {"ok": False, "why": "the state_dict leaves part of the architecture empty"}
    net.eval()
    try:
        with torch.no_grad():
            mine = net(inputs)
    except (RuntimeError, ValueError, TypeError) as exc:
        return {
            "ok": False,
            "why": f"these weights do not run in a {spec['arch']}: {_first_line(exc)}",
        }
    theirs = reader.tensor(need(enc.get("output"), dict, "output"))
    return compare(torch, spec, mine, theirs)


def build(torch: Any, spec: dict[str, Any]) -> Any:
    """The expected architecture, with no weights yet (meta tensors) and the item's heads."""
    from torchvision import models

    with torch.device("meta"):
        net = getattr(models, spec["arch"])(weights=None)
        for path, (out_features, in_features) in spec.get("heads", {}).items():
            parent, _, leaf = path.rpartition(".")
            holder = net.get_submodule(parent) if parent else net
            setattr(holder, leaf, torch.nn.Linear(in_features, out_features))
    return net


def compare(torch: Any, spec: dict[str, Any], mine: Any, theirs: Any) -> dict[str, Any]:
    shape = list(mine.shape)
    if theirs is None or list(theirs.shape) != shape:
        seen = "no tensor" if theirs is None else f"shape {list(theirs.shape)}"
        return {
            "ok": False,
            "why": f"its forward gives {seen}; a {spec['arch']} with its weights gives {shape}",
            "output_shape": shape,
        }
    diff = (theirs.double() - mine.double()).abs()
    worst = float(diff.max()) if diff.numel() else 0.0
    ok = bool(torch.allclose(theirs.double(), mine.double(), rtol=1e-3, atol=1e-4))
    why = (
        ""
        if ok
        else f"its forward differs from a {spec['arch']} with its weights (by up to {worst:.3g})"
    )
    return {"ok": ok, "why": why, "output_shape": shape, "max_abs_diff": number(worst)}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3])[:TEXT_CAP] or type(exc).__name__


def step_rates(reader: Reader, enc: Any, seed: int) -> list[list[Any]] | str:
    """How far one optimizer step moved each parameter per unit gradient, grouped: [[count,
    rate], ...] with rates to two significant digits; the observer draws the gradients itself."""
    if not isinstance(enc, dict) or enc.get("t") != "step_run":
        return "the value is not a (model, optimizer) pair"
    pairs = [_tensors(reader, need(enc.get(k), list, k)) for k in ("before", "after")]
    if [n for n, _ in pairs[0]] != [n for n, _ in pairs[1]] or not pairs[0]:
        return "the parameters changed names during the step"
    torch = reader.torch
    grads = signs(torch, [list(t.shape) for _, t in pairs[0]], seed)
    counts: dict[float, int] = {}
    for (_, old), (_, new), grad in zip(pairs[0], pairs[1], grads, strict=True):
        if old is None or new is None or old.shape != new.shape:
            return "a parameter's bytes could not be read"
        rate = float(((old.double() - new.double()) / grad.double()).median())
        key = float(f"{rate:.2g}") if math.isfinite(rate) else 0.0
        counts[key] = counts.get(key, 0) + 1
    return [[count, rate] for rate, count in sorted(counts.items())]


def _tensors(reader: Reader, rows: list[Any]) -> list[tuple[str, Any]]:
    return [
        (text(need(r, list, "a row")[0], "name"), reader.tensor(need(r[1], dict, "a tensor")))
        for r in rows[:ITEMS_CAP]
    ]
