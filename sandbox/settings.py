"""Operator settings for the sandboxes, read from the environment in one place.

| variable | meaning | default |
|---|---|---|
| GRADER_RUNTIME | the process sandbox's Python runtime (a venv with torch) | <repo>/.runtime |
| GRADER_WEIGHTS_DIR | the weights cache (torchvision checkpoint files) | <repo>/.cache/weights |
| GRADER_IMAGE | the Docker sandbox image (CPU) | grader-sandbox:cpu |
| GRADER_GPU_IMAGE | the Docker sandbox image (CUDA) | grader-sandbox:cuda |
| GRADER_REQUIRE_ISOLATION | `Isolation` fields a run must have (comma list, or `all`) | (none) |
| GRADER_WARM | warm pools: `1` on, `0` every run cold | 1 |
| GRADER_POOL_SIZE | warm sandboxes kept ready per backend (and per limits profile on Docker) | 2 |
| GRADER_POOL_IDLE_S | seconds a warm sandbox may wait unused before it is shut down | 600 |
| GRADER_WARM_IMPORTS | modules warm sandboxes import ahead of demand | torch,torchvision |

A host that cannot give a required isolation refuses to run rather than run weaker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Where torch looks for the weights cache inside every sandbox (`$TORCH_HOME/hub/checkpoints`).
SANDBOX_TORCH_HOME = "/opt/torch"
SANDBOX_CHECKPOINTS = f"{SANDBOX_TORCH_HOME}/hub/checkpoints"


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else default


def _flag(var: str, default: bool) -> bool:
    value = os.environ.get(var, "").strip().lower()
    return default if not value else value not in ("0", "false", "no", "off")


def _number(var: str, default: float) -> float:
    try:
        return float(os.environ.get(var) or default)
    except ValueError:
        return default


def _required() -> frozenset[str]:
    from sandbox.base import Isolation

    raw = os.environ.get("GRADER_REQUIRE_ISOLATION", "").strip()
    if raw == "all":
        return frozenset(f.name for f in fields(Isolation))
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class SandboxSettings:
    """A snapshot of the operator's sandbox settings."""

    runtime: Path = field(default_factory=lambda: _path("GRADER_RUNTIME", REPO_ROOT / ".runtime"))
    weights_dir: Path = field(
        default_factory=lambda: _path("GRADER_WEIGHTS_DIR", REPO_ROOT / ".cache" / "weights")
    )
    image: str = field(default_factory=lambda: os.environ.get("GRADER_IMAGE", "grader-sandbox:cpu"))
    gpu_image: str = field(
        default_factory=lambda: os.environ.get("GRADER_GPU_IMAGE", "grader-sandbox:cuda")
    )
    require_isolation: frozenset[str] = field(default_factory=_required)
    warm: bool = field(default_factory=lambda: _flag("GRADER_WARM", True))
    pool_size: int = field(default_factory=lambda: max(1, int(_number("GRADER_POOL_SIZE", 2))))
    pool_idle_s: float = field(default_factory=lambda: _number("GRADER_POOL_IDLE_S", 600.0))
    warm_imports: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            name.strip()
            for name in os.environ.get("GRADER_WARM_IMPORTS", "torch,torchvision").split(",")
            if name.strip()
        )
    )
