"""The runner -> observer wire: frames of data, never objects.

The runner (student code's process) describes each probe's value as JSON plus raw tensor bytes;
the observer (never runs student code) reads frames with hard caps and validates every field
before it computes an observation. Nothing on this wire is executed or unpickled: tensors are a
dtype, a shape and little-endian bytes, as in safetensors.

Frame: MAGIC, u32 header length, u64 blob length, the header (UTF-8 JSON object), the blob.
A value is a JSON object tagged by "t" (version 1):
    none | bool v | int v | float v (finite, or "inf" "-inf" "nan") | str v length
        (a numpy number, np.float64(0.5) say, is its number with "class": "numpy.float64";
        the reader takes a class only on bool, int and float, and only from NUMPY_NUMBERS)
    list/tuple items length | dict items ([[key, value], ...]) length
    tensor class mro dtype shape device requires_grad data ([offset, nbytes] or null)
    size v | dtype v | module class mro training params ([[name, shape, requires_grad]]) modules
    model_run module state ([[name, tensor]]) output (a tensor) | object class mro repr
Besides the load, probe and end frames, the runner's watchdog sends `running` frames (where the
student's code is, for the time-limit feedback) at any point: `FrameWriter` keeps the two
threads' frames whole.
Standard library only; torch is used when the value or the reader needs it.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import threading
from typing import Any

VERSION = 1
MAGIC = b"GRW1"
PREFIX = struct.Struct("<4sIQ")
HEADER_CAP = 8 << 20
#: All tensor bytes one run may send (a ResNet50 state_dict is ~100 MB).
BLOB_CAP = 192 << 20
DEPTH_CAP = 24
ITEMS_CAP = 4096
TEXT_CAP = 4000
#: Tensors larger than this are sent as shape and dtype only (unless captured whole).
VALUES_CAP = 4096
DTYPES = {
    "float32": 4,
    "float64": 8,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}


#: numpy scalar classes sent as the number they hold (with the tag of its Python type).
NUMPY_NUMBERS = {
    "numpy.bool": "bool",
    "numpy.bool_": "bool",
    **{f"numpy.{kind}{bits}": "int" for kind in ("int", "uint") for bits in (8, 16, 32, 64)},
    **{f"numpy.float{bits}": "float" for bits in (16, 32, 64)},
}


class WireError(Exception):
    """Raised by the observer when the runner's bytes are not a valid frame or value."""


def qualname(kind: type) -> str:
    module = getattr(kind, "__module__", "?")
    name = getattr(kind, "__qualname__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def mro(kind: type) -> list[str]:
    return [qualname(k) for k in type.mro(kind)][:32]


# -- the runner's side: describe a value as data --------------------------------------------------


class Encoder:
    """Turns one probe's value into a header value and the blob its tensors live in."""

    def __init__(self) -> None:
        self.blob = bytearray()

    def value(self, value: Any, depth: int = 0, whole: bool = False) -> dict[str, Any]:
        kind = type(value)
        if value is None:
            return {"t": "none"}
        if kind is bool or kind is int:
            return self._int(value, kind)
        if kind is float:
            return {"t": "float", "v": value if math.isfinite(value) else repr(value)}
        if kind is str:
            return {"t": "str", "v": value[:TEXT_CAP], "length": len(value)}
        torch = sys.modules.get("torch")
        if torch is not None:
            found = self._torch(torch, value, whole)
            if found is not None:
                return found
        numpy = sys.modules.get("numpy")
        if numpy is not None and qualname(kind) in NUMPY_NUMBERS:
            return self._numpy_number(value, kind)
        if depth < DEPTH_CAP - 2 and (kind is list or isinstance(value, tuple)):
            items = [self.value(v, depth + 1) for v in list(value)[:ITEMS_CAP]]
            return {"t": "list" if kind is list else "tuple", "items": items, "length": len(value)}
        if depth < DEPTH_CAP - 2 and kind is dict:
            pairs = list(dict.items(value))[:ITEMS_CAP]
            entries = [[_key(k), self.value(v, depth + 1)] for k, v in pairs]
            return {"t": "dict", "items": entries, "length": len(value)}
        return {"t": "object", "class": qualname(kind), "mro": mro(kind), "repr": _repr(value)}

    def _numpy_number(self, value: Any, kind: type) -> dict[str, Any]:
        """A numpy scalar as the Python number it holds (`item()`), its class named: values
        compare as numbers (as a 0-d tensor's do), exact type checks still see numpy's class."""
        number = kind.item(value)  # type: ignore[attr-defined]
        found = self.value(number) if type(number) in (bool, int, float) else {}
        if found.get("t") not in ("bool", "int", "float"):
            return {"t": "object", "class": qualname(kind), "mro": mro(kind), "repr": _repr(value)}
        return found | {"class": qualname(kind)}

    def _int(self, value: int, kind: type) -> dict[str, Any]:
        if kind is bool:
            return {"t": "bool", "v": value}
        if -(2**63) <= value < 2**64:
            return {"t": "int", "v": value}
        return {"t": "object", "class": "int", "mro": ["int", "object"], "repr": "a huge int"}

    def _torch(self, torch: Any, value: Any, whole: bool) -> dict[str, Any] | None:
        if isinstance(value, torch.Tensor):
            return self.tensor(torch, value, whole)
        if type(value) is torch.Size:
            return {"t": "size", "v": [int(n) for n in tuple.__iter__(value)]}
        if type(value) is torch.dtype:
            return {"t": "dtype", "v": str(value).removeprefix("torch.")}
        if isinstance(value, torch.nn.Module):
            return module(torch, value)
        return None

    def tensor(self, torch: Any, value: Any, whole: bool = False) -> dict[str, Any]:
        """The tensor's real storage, read through the base class (a subclass cannot lie)."""
        with torch._C.DisableTorchFunctionSubclass():
            base = torch.Tensor.as_subclass(value, torch.Tensor)
            data = base.detach().cpu().contiguous()
            dtype = str(data.dtype).removeprefix("torch.")
            out = {
                "t": "tensor",
                "class": qualname(type(value)),
                "mro": mro(type(value)),
                "dtype": dtype,
                "shape": [int(n) for n in data.shape],
                "device": str(base.device),
                "requires_grad": bool(base.requires_grad),
                "data": None,
            }
            if dtype in DTYPES and (whole or data.numel() <= VALUES_CAP):
                raw = data.reshape(-1).view(torch.uint8).numpy().tobytes()
                out["data"] = [len(self.blob), len(raw)]
                self.blob += raw
        return out

    def model_run(self, torch: Any, model: Any, inputs: Any) -> dict[str, Any]:
        """A model as data: its state_dict whole, and its own forward on `inputs` (eval mode)."""
        if not isinstance(model, torch.nn.Module):
            return self.value(model)
        state = torch.nn.Module.state_dict(model)
        tensors = [[str(k), self.tensor(torch, v, whole=True)] for k, v in state.items()]
        torch.nn.Module.eval(model)
        with torch.no_grad():
            output = model(inputs)
        return {
            "t": "model_run",
            "module": module(torch, model),
            "state": tensors,
            "output": self.value(output, whole=True),
        }

    def step_run(self, torch: Any, value: Any, seed: int) -> dict[str, Any]:
        """(model, optimizer) as data: every parameter before and after one `step()` with
        gradients of +1 or -1 drawn from `seed` (the observer draws the same ones)."""
        if not isinstance(value, tuple) or len(value) != 2:
            return self.value(value)
        model, optimizer = value
        named = _params(torch, model)
        before = [[n, self.tensor(torch, p, whole=True)] for n, p in named]
        grads = signs(torch, [list(p.shape) for _, p in named], seed)
        for (_, p), grad in zip(named, grads, strict=True):
            p.grad = grad.to(dtype=p.dtype, device=p.device)
        optimizer.step()
        after = [[n, self.tensor(torch, p, whole=True)] for n, p in named]
        return {"t": "step_run", "before": before, "after": after}


def _params(torch: Any, model: Any) -> list[tuple[str, Any]]:
    return [(str(n), p) for n, p in torch.nn.Module.named_parameters(model)]


def signs(torch: Any, shapes: list[list[int]], seed: int) -> list[Any]:
    """The unit gradients of a step probe: +1 or -1 per element, drawn from `seed` in order."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 2, shape, generator=generator) * 2.0 - 1.0 for shape in shapes]


def module(torch: Any, value: Any) -> dict[str, Any]:
    """Parameters through the base class's accessors; class names are the runner's claims."""
    base = torch.nn.Module
    params = [
        [str(name), [int(n) for n in p.shape], bool(torch._C.TensorBase.requires_grad.__get__(p))]
        for name, p in base.named_parameters(value)
    ]
    modules = [[str(name), qualname(type(m))] for name, m in base.named_modules(value)]
    return {
        "t": "module",
        "class": qualname(type(value)),
        "mro": mro(type(value)),
        "training": bool(base.__getattribute__(value, "training")),
        "params": params[:ITEMS_CAP],
        "modules": modules[:512],
    }


def _key(key: Any) -> str:
    return key if type(key) is str else _repr(key)


def _repr(value: Any) -> str:
    try:
        return str(repr(value))[:TEXT_CAP]
    except Exception:  # noqa: BLE001 - a value whose repr raises is still a value
        return f"<{qualname(type(value))}>"


class FrameWriter:
    """The runner's end of the data pipe, written by its main thread and its watchdog: one frame
    at a time (a frame cut by another is unreadable, and fails the run closed), and nothing after
    the end frame (the observer stops reading there)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.ended = False

    def send(self, header: dict[str, Any], blob: bytes | bytearray = b"") -> bool:
        """Write one frame; False, writing nothing, once the end frame has gone."""
        with self.lock:
            if self.ended:
                return False
            write_frame(self.fd, header, blob)
            self.ended = header.get("end") is True
            return True


def write_frame(fd: int, header: dict[str, Any], blob: bytes | bytearray = b"") -> None:
    body = json.dumps(header, allow_nan=False).encode()
    data = PREFIX.pack(MAGIC, len(body), len(blob)) + body + bytes(blob)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# -- the observer's side: read and validate --------------------------------------------------------


def parse_frame(prefix: bytes) -> tuple[int, int]:
    """Header and blob lengths from a frame's prefix; WireError beyond the caps."""
    magic, header_len, blob_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise WireError("not a frame")
    if header_len > HEADER_CAP or blob_len > BLOB_CAP:
        raise WireError("a frame over the size limit")
    return header_len, blob_len


def load_header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise WireError("a frame header that is not JSON") from exc
    if not isinstance(header, dict):
        raise WireError("a frame header that is not an object")
    check_depth(header)
    return header


def _no_constant(name: str) -> Any:
    raise WireError(f"{name} is not JSON")


def check_depth(value: Any, depth: int = 0) -> None:
    if depth > DEPTH_CAP * 2 + 4:
        raise WireError("a value nested too deep")
    if isinstance(value, dict):
        for item in value.values():
            check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_depth(item, depth + 1)
