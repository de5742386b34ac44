"""`grader doctor`: what works on this host and why not, in one look.

`diagnose()` gathers a `DoctorReport`; `doctor_text()` words it for a person and
`DoctorReport.to_json()` is what `grader doctor --json` prints. What it knows of Docker it asks
the docker backend (`sandbox.container.health`), whose errors come through the backend's own
mapping.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.backends import BACKENDS, open_sandbox
from sandbox.base import Isolation, Limits, RunRequest
from sandbox.container import health
from sandbox.errors import SandboxError
from sandbox.packages import RuntimePackages, runtime_packages
from sandbox.settings import SandboxSettings
from sandbox.weights import list_weights

PROBE = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"

#: How each backend's warm path works and what runs cold there, shown as they are.
PROCESS_WARM = (
    "zygotes in the jail, one forked child per job; cold for network, GPU device "
    "nodes, programs other than `python [-I] -c|SCRIPT`, or before the pool is ready"
)
DOCKER_WARM = (
    "long-lived containers (torch imported), one job at a time in a fresh child under fresh "
    "uids, swept after each, replaced after GRADER_DOCKER_JOBS_PER_CONTAINER jobs; a pool "
    "per limits profile, torch's memory on top of the limit; cold for GPU runs (the CUDA image "
    "stays cold), network, stdin over 1 MiB, programs other than `python [-I] -c|SCRIPT`, "
    "or when no container is ready or starting"
)


@dataclass(frozen=True)
class Probe:
    """What the torch probe showed on a backend that ran it."""

    torch_torchvision: str
    isolation: Isolation
    #: The whole probe run: an interpreter that imports torch and torchvision.
    seconds_to_import_torch: float

    def to_json(self) -> dict[str, Any]:
        return {
            "torch_torchvision": self.torch_torchvision,
            "isolation": asdict(self.isolation),
            "missing_isolation": self.isolation.missing(),
            "seconds_to_import_torch": self.seconds_to_import_torch,
        }


@dataclass(frozen=True)
class BackendRow:
    """One backend: whether torch runs in it, and why not."""

    works: bool
    why: str
    #: None when the backend did not open or the probe run raised.
    probe: Probe | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"works": self.works, "why": self.why}
        return row if self.probe is None else row | self.probe.to_json()


@dataclass(frozen=True)
class DockerRow:
    """The Docker engine, and the sandbox image on it."""

    #: The engine's version; None without an engine (or when it gave none).
    engine: str | None
    #: Why there is no engine; None when it answered.
    why: str | None = None
    image: str = ""
    #: None when the image is not built.
    image_info: health.ImageInfo | None = None

    def to_json(self) -> dict[str, Any]:
        if self.why is not None:
            return {"engine": self.engine, "why": self.why}
        info = asdict(self.image_info) if self.image_info is not None else None
        return {"engine": self.engine, "image": self.image, "image_info": info}


@dataclass(frozen=True)
class DockerPoolRow:
    """The warm containers on the engine now; `census` is None without an engine."""

    census: health.WarmCensus | None
    #: Why they could not be counted (the Docker error's class name).
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.census is None:
            return {"containers": None, "why": self.why}
        return asdict(self.census)


@dataclass(frozen=True)
class WarmRow:
    """The warm-pool settings and which runs take the warm path (the others start cold)."""

    enabled: bool
    pool_size: int | None  # None: sized to the work (one per grading worker, at least 2)
    idle_s: float
    imports: list[str]
    docker_pool: DockerPoolRow
    process: str = PROCESS_WARM
    docker: str = DOCKER_WARM

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "pool_size": self.pool_size,
            "idle_s": self.idle_s,
            "imports": self.imports,
            "process": self.process,
            "docker": self.docker,
            "docker_pool": self.docker_pool.to_json(),
        }


@dataclass(frozen=True)
class WeightsRow:
    """The pre-trained weights cache the sandboxes mount."""

    folder: str
    files: list[str]
    standins_manifest: bool
    #: Real files whose content is not what their name's hash prefix says (never stand-ins).
    mismatched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DoctorReport:
    """Everything `grader doctor` found, one row per part."""

    backends: dict[str, BackendRow]
    docker: DockerRow
    gpus: list[str]
    weights: WeightsRow
    runtime: str
    warm: WarmRow
    packages: RuntimePackages

    def any_backend_works(self) -> bool:
        return any(row.works for row in self.backends.values())

    def to_json(self) -> dict[str, Any]:
        """The `--json` form: plain dicts and lists, keys in the order they are shown."""
        return {
            "backends": {name: row.to_json() for name, row in self.backends.items()},
            "docker": self.docker.to_json(),
            "gpus": self.gpus,
            "weights": asdict(self.weights),
            "runtime": self.runtime,
            "warm": self.warm.to_json(),
            "packages": packages_json(self.packages),
        }


def diagnose(settings: SandboxSettings | None = None) -> DoctorReport:
    settings = settings or SandboxSettings()
    return DoctorReport(
        backends={name: backend_status(name, settings) for name in BACKENDS},
        docker=docker_status(settings),
        gpus=gpus(),
        weights=weights_status(settings),
        runtime=str(settings.runtime),
        warm=warm_status(settings),
        packages=runtime_packages(settings),
    )


def _failure(exc: SandboxError) -> str:
    """The class name of the Docker error behind a sandbox error (the mapping chains it)."""
    return type(exc.__cause__ or exc).__name__


def warm_status(settings: SandboxSettings) -> WarmRow:
    return WarmRow(
        enabled=settings.warm,
        pool_size=settings.pool_size,
        idle_s=settings.pool_idle_s,
        imports=list(settings.warm_imports),
        docker_pool=docker_pool(),
    )


def docker_pool() -> DockerPoolRow:
    """The Docker warm containers on the engine: how many, of how many owners, how many stale."""
    try:
        return DockerPoolRow(health.warm_census())
    except SandboxError as exc:  # no engine: nothing to show
        return DockerPoolRow(None, _failure(exc))


def backend_status(name: str, settings: SandboxSettings) -> BackendRow:
    """Open the backend and run torch in it; say why not when it fails."""
    try:
        sandbox = open_sandbox(name, settings)
    except SandboxError as exc:
        return BackendRow(works=False, why=str(exc))
    try:
        result = sandbox.run(RunRequest(argv=("python", "-c", PROBE), limits=Limits(wall_s=60)))
    except SandboxError as exc:
        return BackendRow(works=False, why=str(exc))
    finally:
        sandbox.close()
    probe = Probe(
        torch_torchvision=result.stdout.decode(errors="replace").strip(),
        isolation=result.isolation,
        seconds_to_import_torch=round(result.wall_s, 2),
    )
    why = "" if result.ok else result.stderr.decode(errors="replace")[-300:]
    return BackendRow(works=result.ok, why=why, probe=probe)


def docker_status(settings: SandboxSettings) -> DockerRow:
    try:
        version = health.engine_version()
    except SandboxError as exc:
        why = f"no Docker engine reachable ({_failure(exc)}); run scripts/install-docker.sh"
        return DockerRow(engine=None, why=why)
    info = health.image_info(settings)
    return DockerRow(engine=version, image=settings.image, image_info=info)


def gpus() -> list[str]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    return [line for line in done.stdout.splitlines() if line.startswith("GPU")]


def weights_status(settings: SandboxSettings) -> WeightsRow:
    folder = settings.weights_dir
    files = sorted(p.name for p in folder.glob("*.pth")) if folder.is_dir() else []
    standins = (folder / "STANDINS.json").is_file()
    mismatched = [w.name for w in list_weights(settings) if w.mismatched]
    return WeightsRow(str(folder), files, standins, mismatched)


def packages_json(packages: RuntimePackages) -> dict[str, Any]:
    """What `--json` shows of the sandbox's packages: `absent` is computed, not stored."""
    return asdict(packages) | {"absent": packages.absent()}


def doctor_text(report: DoctorReport) -> str:
    lines = []
    for name, row in report.backends.items():
        lines += _backend_lines(name, row)
    lines += _docker_lines(report.docker)
    lines += _warm_lines(report.warm)
    lines.append(f"gpus: {', '.join(report.gpus) or 'none seen'}")
    lines += _weights_lines(report.weights)
    lines += _packages_lines(report.packages)
    return "\n".join(lines)


def _weights_lines(weights: WeightsRow) -> list[str]:
    stand = (
        " (stand-ins: for tests and demos, not pre-trained)" if weights.standins_manifest else ""
    )
    lines = [f"weights cache {weights.folder}: {', '.join(weights.files) or 'empty'}{stand}"]
    if weights.mismatched:
        lines.append(
            f"  hash MISMATCH, corrupt or misnamed (torchvision refuses them): "
            f"{', '.join(weights.mismatched)}; replace them with `grader weights add FILE`"
        )
    return lines


def _packages_lines(packages: RuntimePackages) -> list[str]:
    """What student code can import, read from the runtime (or its pins, with no runtime)."""
    python = f"python {packages.python}, " if packages.python else ""
    pinned = ", ".join(f"{name} {version}" for name, version in packages.pinned.items())
    lines = [f"sandbox packages ({packages.source}): {python}{pinned}"]
    if packages.others:
        others = ", ".join(f"{name} {version}" for name, version in packages.others.items())
        lines.append(f"  also installed: {others}")
    absent = packages.absent()
    if absent:
        lines.append(f"  not installed (importing them fails): {', '.join(absent)}")
    return lines


def _backend_lines(name: str, row: BackendRow) -> list[str]:
    lines = [f"backend {name}: {'works' if row.works else 'unavailable'}"]
    if not row.works or row.probe is None:  # a backend works only when its probe ran
        return [*lines, f"  why: {row.why}"]
    missing = ", ".join(row.probe.isolation.missing()) or "none"
    return [
        *lines,
        f"  torch/torchvision {row.probe.torch_torchvision}, import "
        f"{row.probe.seconds_to_import_torch} s",
        f"  isolation missing: {missing}",
    ]


def _docker_lines(docker: DockerRow) -> list[str]:
    lines = [f"docker engine: {docker.engine or docker.why}"]
    if docker.engine:
        # The image's details as a dict, the way the doctor has always shown them.
        info = asdict(docker.image_info) if docker.image_info is not None else None
        lines.append(f"  image {docker.image}: {info or 'not built (make image)'}")
    return lines


def _size(pool_size: int | None) -> str:
    return str(pool_size) if pool_size is not None else "one per grading worker (at least 2)"


def _warm_lines(warm: WarmRow) -> list[str]:
    lines = [
        f"warm pools: {'on' if warm.enabled else 'off'}, size {_size(warm.pool_size)}, idle "
        f"{warm.idle_s} s, imports {','.join(warm.imports)}",
        f"  process: {warm.process}",
        f"  docker: {warm.docker}",
    ]
    census = warm.docker_pool.census
    if census is not None:
        lines.append(
            f"  docker pool now: {census.containers} warm containers of {census.owners} grader "
            f"processes, {census.stale} stale (removed when a pool starts)"
        )
    return lines
