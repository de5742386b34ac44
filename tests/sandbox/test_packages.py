"""What sandbox programs can import, read from the runtime's folder (or its pins without one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.home import runtime_folder
from sandbox.packages import (
    PINS,
    canonical,
    read_pins,
    runtime_packages,
    sandbox_has,
)
from sandbox.settings import SandboxSettings


def fake_runtime(folder: Path, *dists: str, version: str = "3.11.9") -> Path:
    """A runtime venv as pip leaves it: `pyvenv.cfg` and `*.dist-info` folders, no interpreter
    (so nothing here can have started one)."""
    site = folder / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}\n")
    for dist in dists:
        (site / f"{dist}.dist-info").mkdir()
    (site / "torch").mkdir()  # a package folder is not a distribution
    return folder


STANDARD = ("torch-2.14.1", "torchvision-0.29.1", "numpy-2.4.6", "pillow-13.0.0", "sympy-1.14.0")


@pytest.mark.parametrize(
    ("name", "key"),
    [("Jinja2", "jinja2"), ("typing_extensions", "typing-extensions"), ("a.b--c", "a-b-c")],
)
def test_names_compare_as_pep_503_says(name: str, key: str) -> None:
    assert canonical(name) == key


def test_the_runtime_says_what_is_installed(tmp_path: Path) -> None:
    venv = fake_runtime(tmp_path / "rt", *STANDARD, "pip-23.2.1")
    found = runtime_packages(SandboxSettings(runtime=venv))
    assert found.python == "3.11.9" and found.source == f"the runtime at {venv}"
    assert list(found.pinned) == list(read_pins())  # in the pins file's order
    assert found.pinned["torch"] == "2.14.1"
    assert found.others == {"pip": "23.2.1", "sympy": "1.14.0"}
    assert found.absent() == ["matplotlib", "sklearn", "pandas", "scipy"]


def test_the_sentence_names_versions_and_what_is_missing(tmp_path: Path) -> None:
    venv = fake_runtime(tmp_path / "rt", *STANDARD, "scikit_learn-1.5.0")
    line = sandbox_has(SandboxSettings(runtime=venv))
    assert line.startswith(
        "The sandbox has: python 3.11, torch 2.14.1, torchvision 0.29.1, numpy 2.4.6, "
        "pillow 13.0.0 (PIL) and their dependencies; nothing else (no matplotlib, no pandas, "
        "no scipy)"
    )
    assert "sklearn" not in line  # installed here, so not said to be missing


def test_without_a_runtime_the_pins_stand_in(tmp_path: Path) -> None:
    found = runtime_packages(SandboxSettings(runtime=tmp_path / "none"))
    assert found.python is None and found.others == {}
    assert found.pinned == read_pins() and {"torch", "torchvision"} <= set(found.pinned)
    assert found.source == f"the pins in {PINS} (no runtime built here)"
    assert sandbox_has(SandboxSettings(runtime=tmp_path / "none")).startswith(
        "The sandbox has: python, torch "
    )


def test_a_missing_pins_file_reads_as_no_pins(tmp_path: Path) -> None:
    assert read_pins(tmp_path / "runtime.txt") == {}


@pytest.mark.parametrize(
    "env",
    [{}, {"GRADER_HOME": "/srv/course"}, {"GRADER_RUNTIME": "/opt/rt", "GRADER_HOME": "/srv/c"}],
    ids=["checkout", "home", "runtime"],
)
def test_the_runtime_is_found_where_the_settings_find_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    """`grader show` finds the runtime without pydantic-settings; it must be the same folder."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert runtime_folder() == SandboxSettings().runtime


def test_show_reads_the_runtime_without_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = fake_runtime(tmp_path / "rt", *STANDARD)
    monkeypatch.setenv("GRADER_RUNTIME", str(venv))
    assert runtime_packages().source == f"the runtime at {venv}"
    assert "torch 2.14.1" in sandbox_has()
