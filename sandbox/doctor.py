"""`grader doctor`: what works on this host and why not, in one look."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from sandbox.backends import BACKENDS, open_sandbox
from sandbox.base import Limits, RunRequest
from sandbox.errors import SandboxError
from sandbox.settings import SandboxSettings

PROBE = "import torch, torchvision; print(torch.__version__, torchvision.__version__)"


def diagnose(settings: SandboxSettings | None = None) -> dict[str, Any]:
    settings = settings or SandboxSettings()
    return {
        "backends": {name: backend_status(name, settings) for name in BACKENDS},
        "docker": docker_status(settings),
        "gpus": gpus(),
        "weights": weights_status(settings),
        "runtime": str(settings.runtime),
        "warm": warm_status(settings),
    }


def warm_status(settings: SandboxSettings) -> dict[str, Any]:
    """The warm-pool settings and which runs take the warm path (the others start cold)."""
    return {
        "enabled": settings.warm,
        "pool_size": settings.pool_size,
        "idle_s": settings.pool_idle_s,
        "imports": list(settings.warm_imports),
        "process": "zygotes in the jail, one forked child per job; cold for network, GPU device "
        "nodes, programs other than `python [-I] -c|SCRIPT`, or before the pool is ready",
        "docker": "pre-started containers (torch imported), one job each, then removed; a pool "
        "per limits profile, torch's memory on top of the limit; cold for GPU runs (the CUDA image "
        "stays cold), network, stdin over 1 MiB, programs other than `python [-I] -c|SCRIPT`, "
        "or when no container is ready or starting",
        "docker_pool": docker_pool(settings),
    }


def docker_pool(settings: SandboxSettings) -> dict[str, Any]:
    """The Docker warm containers on the engine: ready or busy, by owner process."""
    try:
        import docker

        from sandbox.container.spec import LABEL
        from sandbox.container.warm import OWNER_LABEL, owner_alive

        client = docker.from_env(timeout=5)
        found = client.api.containers(all=True, filters={"label": f"{LABEL}=warm"})
    except Exception as exc:  # noqa: BLE001 - no engine: nothing to show
        return {"containers": None, "why": type(exc).__name__}
    owners = [(c.get("Labels") or {}).get(OWNER_LABEL, "") for c in found]
    return {
        "containers": len(found),
        "stale": sum(not owner_alive(owner) for owner in owners),
        "owners": len(set(owners)),
    }


def backend_status(name: str, settings: SandboxSettings) -> dict[str, Any]:
    """Open the backend and run torch in it; say why not when it fails."""
    try:
        sandbox = open_sandbox(name, settings)
    except SandboxError as exc:
        return {"works": False, "why": str(exc)}
    try:
        result = sandbox.run(RunRequest(argv=("python", "-c", PROBE), limits=Limits(wall_s=60)))
    except SandboxError as exc:
        return {"works": False, "why": str(exc)}
    finally:
        sandbox.close()
    versions = result.stdout.decode(errors="replace").strip()
    return {
        "works": result.ok,
        "why": "" if result.ok else result.stderr.decode(errors="replace")[-300:],
        "torch_torchvision": versions,
        "isolation": vars(result.isolation),
        "missing_isolation": result.isolation.missing(),
        "seconds_to_import_torch": round(result.wall_s, 2),
    }


def docker_status(settings: SandboxSettings) -> dict[str, Any]:
    try:
        import docker

        client = docker.from_env(timeout=5)
        version = client.version().get("Version")
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
        return {
            "engine": None,
            "why": f"no Docker engine reachable ({type(exc).__name__}); "
            "run scripts/install-docker.sh",
        }
    from sandbox.container.images import image_info

    info = image_info(settings)
    return {"engine": version, "image": settings.image, "image_info": _plain(info)}


def _plain(info: object) -> Any:
    return vars(info) if info is not None and hasattr(info, "__dict__") else info


def gpus() -> list[str]:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    return [line for line in done.stdout.splitlines() if line.startswith("GPU")]


def weights_status(settings: SandboxSettings) -> dict[str, Any]:
    folder = settings.weights_dir
    files = sorted(p.name for p in folder.glob("*.pth")) if folder.is_dir() else []
    standins = (folder / "STANDINS.json").is_file()
    return {"folder": str(folder), "files": files, "standins_manifest": standins}


def doctor_text(report: dict[str, Any]) -> str:
    lines = []
    for name, status in report["backends"].items():
        mark = "works" if status["works"] else "unavailable"
        lines.append(f"backend {name}: {mark}")
        if status["works"]:
            lines.append(
                f"  torch/torchvision {status['torch_torchvision']}, import "
                f"{status['seconds_to_import_torch']} s"
            )
            missing = ", ".join(status["missing_isolation"]) or "none"
            lines.append(f"  isolation missing: {missing}")
        else:
            lines.append(f"  why: {status['why']}")
    docker = report["docker"]
    lines.append(f"docker engine: {docker.get('engine') or docker.get('why')}")
    if docker.get("engine"):
        lines.append(
            f"  image {docker['image']}: {docker['image_info'] or 'not built (make image)'}"
        )
    warm = report["warm"]
    lines.append(
        f"warm pools: {'on' if warm['enabled'] else 'off'}, size {warm['pool_size']}, idle "
        f"{warm['idle_s']} s, imports {','.join(warm['imports'])}"
    )
    lines.append(f"  process: {warm['process']}")
    lines.append(f"  docker: {warm['docker']}")
    pool = warm["docker_pool"]
    if pool["containers"] is not None:
        lines.append(
            f"  docker pool now: {pool['containers']} warm containers of {pool['owners']} grader "
            f"processes, {pool['stale']} stale (removed when a pool starts)"
        )
    lines.append(f"gpus: {', '.join(report['gpus']) or 'none seen'}")
    weights = report["weights"]
    stand = " (stand-ins)" if weights["standins_manifest"] else ""
    lines.append(
        f"weights cache {weights['folder']}: {', '.join(weights['files']) or 'empty'}{stand}"
    )
    return "\n".join(lines)
