"""`grader doctor`: its report's text and JSON, and the docker backend's health checks it asks.

The reports here are built by hand, so these tests need no engine and no runtime; the one that
talks to Docker points the SDK at a port where nothing listens.
"""

from __future__ import annotations

import argparse
import json
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
from sandbox.settings import SandboxSettings

ISOLATED = Isolation(True, True, True, True, True, True)
PROCESS_WORKS = BackendRow(works=True, why="", probe=Probe("2.5.1+cpu 0.20.1+cpu", ISOLATED, 1.23))
DOCKER_MISSING = BackendRow(works=False, why="image grader-sandbox:cpu not built: run make image")
IMAGE = health.ImageInfo("grader-sandbox:cpu", "sha256:abc", "2025-01-01", 10, {"k": "v"})


def report(docker: DockerRow, pool: DockerPoolRow, weights: WeightsRow) -> DoctorReport:
    warm = WarmRow(enabled=True, pool_size=2, idle_s=600.0, imports=["torch"], docker_pool=pool)
    return DoctorReport(
        backends={"process": PROCESS_WORKS, "docker": DOCKER_MISSING},
        docker=docker,
        gpus=[],
        weights=weights,
        runtime="/srv/.runtime",
        warm=warm,
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
        "weights cache /w: a.pth, b.pth (stand-ins)",
    ]


def test_text_without_an_engine() -> None:
    lines = doctor_text(NO_ENGINE).splitlines()
    assert lines[5] == "docker engine: no Docker engine reachable (DockerException); run x"
    assert lines[6].startswith("warm pools: ")
    assert not any("docker pool now" in line for line in lines)
    assert lines[-1] == "weights cache /w: empty"


def test_json_keeps_its_shape() -> None:
    healthy = json.loads(json.dumps(HEALTHY.to_json()))
    assert list(healthy) == ["backends", "docker", "gpus", "weights", "runtime", "warm"]
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
    monkeypatch.setattr("grader.cli.ops.diagnose", lambda: found)
    assert cmd_doctor(argparse.Namespace(json=True)) == (0 if works else 3)
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(found.to_json()))
