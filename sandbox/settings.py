"""Operator settings for the sandboxes, read from the environment in one place.

| variable | meaning | default |
|---|---|---|
| GRADER_HOME | the folder every default path below hangs off | the checkout, else the cwd |
| GRADER_RUNTIME | the process sandbox's Python runtime (a venv with torch) | <home>/.runtime |
| GRADER_WEIGHTS_DIR | the weights cache (torchvision checkpoint files) | <home>/.cache/weights |
| GRADER_IMAGE | the Docker sandbox image (CPU) | grader-sandbox:cpu |
| GRADER_GPU_IMAGE | the Docker sandbox image (CUDA) | grader-sandbox:cuda |
| GRADER_REQUIRE_ISOLATION | `Isolation` fields a run must have (comma list, or `all`) | (none) |
| GRADER_WARM | warm pools: `1` on, `0` every run cold | 1 |
| GRADER_POOL_SIZE | warm sandboxes kept (per limits profile on Docker) | 1 per worker, >= 2 |
| GRADER_POOL_IDLE_S | seconds a warm sandbox may wait unused before it is shut down | 600 |
| GRADER_WARM_IMPORTS | modules warm sandboxes import ahead of demand | torch,torchvision |
| GRADER_DOCKER_JOBS_PER_CONTAINER | jobs a warm Docker container serves, one at a time | 200 |

A host that cannot give a required isolation refuses to run rather than run weaker. A value that
does not parse (`GRADER_POOL_SIZE=two`) is an error naming the variable, never a silent default.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sandbox.home import grader_home

#: Where torch looks for the weights cache inside every sandbox (`$TORCH_HOME/hub/checkpoints`).
SANDBOX_TORCH_HOME = "/opt/torch"
SANDBOX_CHECKPOINTS = f"{SANDBOX_TORCH_HOME}/hub/checkpoints"


#: Kept for the callers that mean "the checkout's files" (tests, the image build context).
REPO_ROOT = grader_home()


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _harness() -> Path | None:
    """The grader's harness, which every graded run carries (when this checkout has it)."""
    folder = Path(__file__).resolve().parent.parent / "grader" / "probe" / "harness"
    return folder if folder.is_dir() else None


class SandboxSettings(BaseSettings):
    """The operator's sandbox settings: read from `GRADER_*` once, validated, immutable."""

    model_config = SettingsConfigDict(env_prefix="GRADER_", frozen=True, extra="ignore")

    runtime: Path = Field(default_factory=lambda: grader_home() / ".runtime")
    weights_dir: Path = Field(default_factory=lambda: grader_home() / ".cache" / "weights")
    image: str = "grader-sandbox:cpu"
    gpu_image: str = "grader-sandbox:cuda"
    require_isolation: Annotated[frozenset[str], NoDecode] = frozenset()
    warm: bool = True
    #: Warm sandboxes kept; None (the default) sizes the pool to the work (`pool_for`).
    pool_size: int | None = Field(default=None, ge=1)
    pool_idle_s: float = Field(default=600.0, gt=0)
    warm_imports: Annotated[tuple[str, ...], NoDecode] = ("torch", "torchvision")
    #: A folder of Python modules each warm interpreter imports once (`sandbox.warm.preload`);
    #: empty for none.
    warm_files: Path | None = Field(default_factory=_harness)
    docker_jobs_per_container: int = Field(default=200, ge=1, le=10_000)

    def pool_for(self, concurrency: int) -> int:
        """The warm pool's size for `concurrency` runs in flight: the setting when given, else
        one per run and at least 2, so a run finds a sandbox ready while the last one's is still
        being cleaned up."""
        return self.pool_size if self.pool_size is not None else max(2, concurrency)

    @field_validator("require_isolation", mode="before")
    @classmethod
    def _isolation(cls, value: Any) -> Any:
        from sandbox.base import Isolation

        if isinstance(value, str) and value.strip() == "all":
            return frozenset(f.name for f in fields(Isolation))
        parts = _comma_list(value)
        return frozenset(parts) if isinstance(parts, tuple) else parts

    @field_validator("warm_files", mode="before")
    @classmethod
    def _files(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("warm_imports", mode="before")
    @classmethod
    def _imports(cls, value: Any) -> Any:
        return _comma_list(value)
