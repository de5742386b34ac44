"""`grader doctor`: its report's text and JSON, and the docker backend's health checks it asks.

The reports here are built by hand, so these tests need no engine and no runtime; the one that
talks to Docker points the SDK at a port where nothing listens.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from grader.cli.ops import cmd_doctor
from sandbox import doctor
from sandbox.base import Isolation
from sandbox.container import health
from sandbox.container.spec import LABEL
from sandbox.container.warm import OWNER_LABEL, owner_id
from sandbox.doctor import (
    BackendRow,
    DockerPoolRow,
    DockerRow,
    DoctorReport,
    Probe,
    WarmRow,
    WeightsRow,
    doctor_text,
)
from sandbox.packages import RuntimePackages, runtime_packages
from sandbox.settings import SandboxSettings
from sandbox.weights import MANIFEST

ISOLATED = Isolation(True, True, True, True, True, True)
PROCESS_WORKS = BackendRow(works=True, why="", probe=Probe("2.5.1+cpu 0.20.1+cpu", ISOLATED, 1.23))
DOCKER_MISSING = BackendRow(works=False, why="image grader-sandbox:cpu not built: run make image")
IMAGE = health.ImageInfo("grader-sandbox:cpu", "sha256:abc", "2025-01-01", 10, {"k": "v"})
PACKAGES = RuntimePackages(
    python="3.11.7",
    pinned={"torch": "2.5.1", "numpy": "2.1.0"},
    others={"sympy": "1.13.1"},
    source="the runtime at /srv/.runtime",
)


def report(docker: DockerRow, pool: DockerPoolRow, weights: WeightsRow) -> DoctorReport:
    warm = WarmRow(enabled=True, pool_size=2, idle_s=600.0, imports=["torch"], docker_pool=pool)
    return DoctorReport(
        backends={"process": PROCESS_WORKS, "docker": DOCKER_MISSING},
        docker=docker,
        gpus=[],
        weights=weights,
        runtime="/srv/.runtime",
        warm=warm,
        packages=PACKAGES,
    )


HEALTHY = report(
    DockerRow(engine="28.2.2", image="grader-sandbox:cpu", image_info=IMAGE),
    DockerPoolRow(health.WarmCensus(containers=3, stale=1, owners=2)),
    WeightsRow(folder="/w", files=["a.pth", "b.pth"], standins_manifest=True),
)
NO_ENGINE = report(
    DockerRow(engine=None, why="no Docker engine reachable (DockerException); run x"),
    DockerPoolRow(None, "DockerException"),
    WeightsRow(folder="/w", files=[], standins_manifest=False),
)


def test_text_of_a_host_with_an_engine() -> None:
    lines = doctor_text(HEALTHY).splitlines()
    assert lines[:5] == [
        "backend process: works",
        "  torch/torchvision 2.5.1+cpu 0.20.1+cpu, import 1.23 s",
        "  isolation missing: none",
        "backend docker: unavailable",
        "  why: image grader-sandbox:cpu not built: run make image",
    ]
    assert lines[5] == "docker engine: 28.2.2"
    assert lines[6] == f"  image grader-sandbox:cpu: {vars(IMAGE)}"
    assert lines[7] == "warm pools: on, size 2, idle 600.0 s, imports torch"
    assert lines[8] == f"  process: {doctor.PROCESS_WARM}"
    assert lines[9] == f"  docker: {doctor.DOCKER_WARM}"
    assert lines[10:] == [
        "  docker pool now: 3 warm containers of 2 grader processes, 1 stale (removed when a "
        "pool starts)",
        "gpus: none seen",
        "weights cache /w: a.pth, b.pth (stand-ins: for tests and demos, not pre-trained)",
        "sandbox packages (the runtime at /srv/.runtime): python 3.11.7, torch 2.5.1, numpy 2.1.0",
        "  also installed: sympy 1.13.1",
        "  not installed (importing them fails): matplotlib, sklearn, pandas, scipy",
    ]


def test_text_without_an_engine() -> None:
    lines = doctor_text(NO_ENGINE).splitlines()
    assert lines[5] == "docker engine: no Docker engine reachable (DockerException); run x"
    assert lines[6].startswith("warm pools: ")
    assert not any("docker pool now" in line for line in lines)
    assert "weights cache /w: empty" in lines


def test_json_keeps_its_shape() -> None:
    healthy = json.loads(json.dumps(HEALTHY.to_json()))
    assert list(healthy) == [
        *("backends", "docker", "gpus", "weights", "runtime", "warm", "packages")
    ]
    assert healthy["backends"]["docker"] == {"works": False, "why": DOCKER_MISSING.why}
    assert healthy["backends"]["process"] == {
        "works": True,
        "why": "",
        "torch_torchvision": "2.5.1+cpu 0.20.1+cpu",
        "isolation": vars(ISOLATED),
        "missing_isolation": [],
        "seconds_to_import_torch": 1.23,
    }
    assert healthy["docker"] == {
        "engine": "28.2.2",
        "image": "grader-sandbox:cpu",
        "image_info": vars(IMAGE),
    }
    assert list(healthy["warm"]) == [
        *("enabled", "pool_size", "idle_s", "imports", "process", "docker", "docker_pool")
    ]
    assert healthy["warm"]["docker_pool"] == {"containers": 3, "stale": 1, "owners": 2}
    assert healthy["weights"] == {
        "folder": "/w",
        "files": ["a.pth", "b.pth"],
        "standins_manifest": True,
        "mismatched": [],
    }
    assert healthy["packages"] == {
        "python": "3.11.7",
        "pinned": {"torch": "2.5.1", "numpy": "2.1.0"},
        "others": {"sympy": "1.13.1"},
        "source": "the runtime at /srv/.runtime",
        "absent": ["matplotlib", "sklearn", "pandas", "scipy"],
    }
    bare = NO_ENGINE.to_json()
    assert bare["docker"] == {"engine": None, "why": NO_ENGINE.docker.why}
    assert bare["warm"]["docker_pool"] == {"containers": None, "why": "DockerException"}


def test_no_engine_comes_through_the_backends_error_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A refused TCP port rather than a missing unix socket: on the latter the SDK leaks its
    # socket, which pytest (warnings are errors) would pin on a later test.
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    row = doctor.docker_status(SandboxSettings())
    assert row.engine is None
    assert row.why == "no Docker engine reachable (DockerException); run scripts/install-docker.sh"
    assert doctor.docker_pool() == DockerPoolRow(None, "DockerException")


class _Engine:
    """A client whose engine lists the given warm containers."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self.found, self.api, self.closed = found, self, False

    def containers(self, all: bool, filters: dict[str, str]) -> list[dict[str, Any]]:
        assert all and filters == {"label": f"{LABEL}=warm"}
        return self.found

    def close(self) -> None:
        self.closed = True


def test_census_counts_owners_and_stale_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    alive, gone = owner_id(), owner_id().rsplit(":", 1)[0] + ":0"
    labels = [{OWNER_LABEL: alive}, {OWNER_LABEL: alive}, {OWNER_LABEL: gone}, None]
    engine = _Engine([{"Id": str(n), "Labels": found} for n, found in enumerate(labels)])
    monkeypatch.setattr(health, "docker_client", lambda timeout_s: engine)
    assert health.warm_census() == health.WarmCensus(containers=4, stale=1, owners=3)
    assert engine.closed


@pytest.mark.parametrize("works", [True, False])
def test_cli_prints_the_json_and_says_whether_anything_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], works: bool
) -> None:
    backends = {"process": PROCESS_WORKS if works else DOCKER_MISSING, "docker": DOCKER_MISSING}
    found = DoctorReport(**{**vars(NO_ENGINE), "backends": backends})
    monkeypatch.setattr("sandbox.doctor.diagnose", lambda: found)  # `doctor` imports it when run
    assert cmd_doctor(argparse.Namespace(json=True)) == (0 if works else 3)
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(found.to_json()))


def test_a_real_weights_file_whose_hash_does_not_match_is_flagged(tmp_path: Path) -> None:
    """Stand-ins never match their names' hashes and are not flagged; a real file that does not
    is corrupt or misnamed, and the doctor says so."""
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "resnet18-f37072fd.pth").write_bytes(b"stand-in")
    (folder / "resnet50-0676ba61.pth").write_bytes(b"a real download, cut short")
    digest = hashlib.sha256(b"stand-in").hexdigest()
    manifest = {"standins": {"resnet18-f37072fd.pth": {"sha256": digest}}}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    row = doctor.weights_status(SandboxSettings(weights_dir=folder))
    assert row.mismatched == ["resnet50-0676ba61.pth"]
    lines = doctor._weights_lines(row)
    assert lines[1].startswith("  hash MISMATCH, corrupt or misnamed")
    assert "resnet50-0676ba61.pth" in lines[1] and "resnet18" not in lines[1]


def test_the_packages_come_from_the_runtime(tmp_path: Path) -> None:
    venv = tmp_path / "runtime"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.9\n")
    for name in ("torch-2.14.1", "matplotlib-3.9.0", "typing_extensions-4.16.0"):
        (site / f"{name}.dist-info").mkdir()
    found = runtime_packages(SandboxSettings(runtime=venv))
    assert (found.python, found.pinned) == ("3.11.9", {"torch": "2.14.1"})
    text = doctor._packages_lines(found)
    assert text[0].endswith("python 3.11.9, torch 2.14.1")
    assert "matplotlib 3.9.0" in text[1] and "typing-extensions 4.16.0" in text[1]
    assert text[2] == "  not installed (importing them fails): sklearn, pandas, scipy"
