"""Build the data of the `finetune-head` code exercise. Deterministic; run with the runtime:

    .runtime/bin/python scripts/make-finetune-data.py

Draws 32x32 RGB images of coloured shapes on noisy backgrounds, pre-trains TinyNet
(questions/data/finetune-head/tinynet.py) on six source shapes, and writes:

    questions/data/finetune-head/pretrained.pt      TinyNet's state dict (6-class head included)
    questions/data/finetune-head/train.pt           fine-tuning set: {"images": uint8, "labels"}
    questions/data/finetune-head/heldout.pt         held-out images only: {"images": uint8}
    solutions/finetune-head/heldout-labels.json     their labels; host-only, never in a sandbox

The fine-tuning task has four shapes the source task never showed (ring, diamond, bar, frame).
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "questions" / "data" / "finetune-head"
SOLUTIONS = ROOT / "solutions" / "finetune-head"
SIZE = 32
NOISE = 0.15
SOURCE_N, PRETRAIN_EPOCHS, PRETRAIN_LR = 4000, 20, 1e-2
TRAIN_PER_CLASS, HELDOUT_PER_CLASS = 60, 80


def load_tinynet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tinynet", DATA / "tinynet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


YY, XX = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")


def shape_mask(shape: str, cx: float, cy: float, r: float) -> torch.Tensor:
    """Boolean [SIZE, SIZE] mask of one shape of radius about r centred at (cx, cy)."""
    dx, dy = XX - cx, YY - cy
    ax, ay, box = dx.abs(), dy.abs(), torch.maximum((XX - cx).abs(), (YY - cy).abs())
    dist = (dx**2 + dy**2).sqrt()
    t = max(1.5, r / 3)  # stroke width
    masks = {
        "disk": lambda: dist <= r,
        "square": lambda: box <= r * 0.85,
        "triangle": lambda: (dy <= r * 0.8) & (ax <= (dy + r) * 0.55),
        "plus": lambda: ((ax <= t) & (ay <= r)) | ((ay <= t) & (ax <= r)),
        "hstripes": lambda: (box <= r) & ((YY - cy + 100).floor() % 4 < 2),
        "vstripes": lambda: (box <= r) & ((XX - cx + 100).floor() % 4 < 2),
        "ring": lambda: (dist <= r) & (dist >= r - t),
        "diamond": lambda: ax + ay <= r,
        "bar": lambda: (ax <= t) & (ay <= r),
        "frame": lambda: (box <= r * 0.85) & (box >= r * 0.85 - t),
    }
    return masks[shape]()


def draw(shapes: list[str], labels: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One image per label: a random colour on a random dark background, random size and place."""
    out = torch.empty(len(labels), 3, SIZE, SIZE)
    for i, label in enumerate(labels.tolist()):
        r = 5 + 5 * float(torch.rand(1, generator=g))
        cx, cy = (torch.rand(2, generator=g) * (SIZE - 2 * r - 2) + r + 1).tolist()
        bg = torch.rand(3, 1, 1, generator=g) * 0.5
        fg = torch.rand(3, 1, 1, generator=g)
        while float((fg - bg).abs().sum()) < 0.6:
            fg = torch.rand(3, 1, 1, generator=g)
        m = shape_mask(shapes[label], cx, cy, r).float()
        img = bg * (1 - m) + fg * m + NOISE * torch.randn(3, SIZE, SIZE, generator=g)
        out[i] = img.clamp(0, 1)
    return out


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


def balanced(classes: int, per_class: int, g: torch.Generator) -> torch.Tensor:
    labels = torch.arange(classes).repeat(per_class)
    return labels[torch.randperm(len(labels), generator=g)]


def pretrain(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    batch = 32
    steps = PRETRAIN_EPOCHS * ((len(x) + batch - 1) // batch)
    opt = torch.optim.Adam(model.parameters(), lr=PRETRAIN_LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, PRETRAIN_LR, total_steps=steps)
    model.train()
    for _ in range(PRETRAIN_EPOCHS):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tinynet = load_tinynet()
    g = torch.Generator().manual_seed(20240601)
    source, target = tinynet.SOURCE_CLASSES, tinynet.TARGET_CLASSES

    ys = torch.randint(len(source), (SOURCE_N,), generator=g)
    xs = draw(source, ys, g)
    yv = balanced(len(source), 100, g)
    xv = draw(source, yv, g)
    model = tinynet.TinyNet(len(source))
    start = time.time()
    pretrain(model, xs, ys)
    model.eval()
    with torch.no_grad():
        accuracy = (model(xv).argmax(1) == yv).float().mean().item()
    print(f"pre-trained in {time.time() - start:.0f}s; source validation accuracy {accuracy:.3f}")

    y_train = balanced(len(target), TRAIN_PER_CLASS, g)
    x_train = draw(target, y_train, g)
    y_held = balanced(len(target), HELDOUT_PER_CLASS, g)
    x_held = draw(target, y_held, g)

    DATA.mkdir(parents=True, exist_ok=True)
    SOLUTIONS.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), DATA / "pretrained.pt")
    torch.save({"images": to_uint8(x_train), "labels": y_train}, DATA / "train.pt")
    torch.save({"images": to_uint8(x_held)}, DATA / "heldout.pt")
    (SOLUTIONS / "heldout-labels.json").write_text(json.dumps(y_held.tolist()) + "\n")
    for path in sorted(DATA.glob("*.pt")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
