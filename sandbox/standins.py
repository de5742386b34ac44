"""Stand-in pre-trained weights: random state dicts with torchvision's file names and shapes.

Sandboxes have no network, so `weights=ResNet18_Weights.IMAGENET1K_V1` must find its file in the
weights cache. Tests and offline demos fill the cache with stand-ins: each is the state dict of
the torchvision model built with `weights=None` under a fixed seed, saved under the file name of
the real checkpoint's URL. They load and run like the real ones but are not pre-trained, and
their sha256 does not match the hash prefix in their name (torchvision checks that prefix only
when it downloads, so a cached stand-in loads). `STANDINS.json` in the cache lists them.

The host has no torch: the script below runs under the sandbox runtime's Python.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sandbox.errors import WeightsError

#: weights enum member -> (model builder, file name of the checkpoint's URL in torchvision 0.29)
STANDINS: dict[str, tuple[str, str]] = {
    "ResNet18_Weights.IMAGENET1K_V1": ("resnet18", "resnet18-f37072fd.pth"),
    "ResNet50_Weights.IMAGENET1K_V1": ("resnet50", "resnet50-0676ba61.pth"),
    "ResNet50_Weights.IMAGENET1K_V2": ("resnet50", "resnet50-11ad3fa6.pth"),
    "MobileNet_V2_Weights.IMAGENET1K_V1": ("mobilenet_v2", "mobilenet_v2-b0353104.pth"),
    "MobileNet_V2_Weights.IMAGENET1K_V2": ("mobilenet_v2", "mobilenet_v2-7ebf99e0.pth"),
}
SEED = 0

# Runs under the runtime's Python: argv[1] = JSON {weights: [builder, file]}, argv[2] = folder.
# Writes each file atomically and prints one JSON line per file.
_SCRIPT = """
import json, os, sys
import torch, torchvision
from torchvision import models

wanted, folder = json.loads(sys.argv[1]), sys.argv[2]
for name, (builder, file) in wanted.items():
    enum, member = name.split(".")
    weights = getattr(models, enum)[member]
    real = weights.url.rsplit("/", 1)[1]
    if real != file:
        sys.exit(f"torchvision {torchvision.__version__} names {name} {real!r}, not {file!r}")
    torch.manual_seed(SEED)
    model = getattr(models, builder)(weights=None, num_classes=len(weights.meta["categories"]))
    part = os.path.join(folder, "." + file + ".part")
    torch.save(model.state_dict(), part)
    os.chmod(part, 0o644)
    os.replace(part, os.path.join(folder, file))
    print(json.dumps({"file": file, "weights": name, "builder": builder, "seed": SEED,
                      "torch": torch.__version__, "torchvision": torchvision.__version__}))
"""


def generate(python: str, folder: Path, names: list[str]) -> list[dict[str, object]]:
    """Write the stand-ins for `names` into `folder`; return what the script reported."""
    wanted = {name: STANDINS[name] for name in names}
    script = _SCRIPT.replace("SEED", str(SEED))
    try:
        done = subprocess.run(
            [python, "-I", "-c", script, json.dumps(wanted), str(folder)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsError(f"cannot run the runtime's Python {python}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WeightsError(f"making stand-in weights in {folder} failed: {last}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
