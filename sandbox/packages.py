"""What a sandbox program can import: the runtime's Python version and installed packages.

One place knows it, read from the runtime itself, so `grader doctor` and `grader show` cannot
drift from what student code will find: the `*.dist-info` folder names of the process runtime's
site-packages (`name-version.dist-info`, as pip writes them from wheels) and its `pyvenv.cfg`.
That is one directory listing and one small file: cheap enough for every `grader show`, with no
interpreter started, and without importing pydantic-settings (which alone costs more than a
cached `grader show`): `sandbox.home` finds the runtime as `SandboxSettings` does, and
tests/sandbox/test_packages.py checks that the two agree. Where no runtime is built (a student's
machine with only the student bank, a Docker-only host) the pins it is built from
(`container/dockerfiles/runtime.txt`, which the Docker images install too) stand in, without
versions of what they pull in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.home import PACKAGE_PARENT, runtime_folder

if TYPE_CHECKING:
    from sandbox.settings import SandboxSettings

#: The requirements the process runtime and the Docker images are both built from.
PINS = PACKAGE_PARENT / "sandbox" / "container" / "dockerfiles" / "runtime.txt"
#: Libraries students often reach for, by distribution name.
OFTEN_EXPECTED = ("matplotlib", "scikit-learn", "pandas", "scipy")
#: Distributions imported under another name, shown with it (`pillow 13.0.0 (PIL)`).
IMPORTED_AS = {"pillow": "PIL", "scikit-learn": "sklearn"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")
_DIST_INFO = re.compile(r"^(.+?)-([^-]+)\.dist-info$")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them: `Jinja2`, `jinja2` and `jin_ja2` alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class RuntimePackages:
    """The sandbox's Python and packages, and where that was read from."""

    #: `3.11.7`; None when only the pins were read.
    python: str | None
    #: The pinned requirements, canonical name -> version, in the order of the pins file.
    pinned: dict[str, str]
    #: Everything else installed (what the pins pulled in, and the venv's pip and setuptools).
    others: dict[str, str]
    #: `the runtime at PATH`, or `the pins in PATH (no runtime built here)`.
    source: str

    def has(self, name: str) -> bool:
        key = canonical(name)
        return key in self.pinned or key in self.others

    def absent(self) -> list[str]:
        """The often-expected libraries a program cannot import, by their import names."""
        return [IMPORTED_AS.get(name, name) for name in OFTEN_EXPECTED if not self.has(name)]

    def summary(self) -> str:
        """One line for students: the versions that matter and what is not there."""
        python = f"python {_minor(self.python)}" if self.python else "python"
        if not self.pinned:
            return f"{python} (its packages are unknown here: {self.source})"
        pinned = ", ".join(_shown(name, version) for name, version in self.pinned.items())
        line = f"{python}, {pinned} and their dependencies"
        absent = self.absent()
        if absent:
            line += "; nothing else (" + ", ".join(f"no {m}" for m in absent) + ")"
        return line


def _shown(name: str, version: str) -> str:
    imported = IMPORTED_AS.get(name)
    return f"{name} {version}" + (f" ({imported})" if imported else "")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def read_pins(path: Path = PINS) -> dict[str, str]:
    """`name==version` lines of a requirements file, canonical name -> version ({} when the
    file is not there: an installed package may come without it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed(site_packages: Path) -> dict[str, str]:
    """Canonical name -> version of every distribution in a site-packages folder."""
    found: dict[str, str] = {}
    for entry in site_packages.iterdir():
        match = _DIST_INFO.match(entry.name)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


def _runtime_python(venv: Path) -> str | None:
    """`version` of the venv's `pyvenv.cfg` (written by `python -m venv`)."""
    try:
        config = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def _site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return found[-1] if found else None


def runtime_packages(settings: SandboxSettings | None = None) -> RuntimePackages:
    """The runtime's packages when it is built here, else the pins it would be built from."""
    venv = settings.runtime if settings is not None else runtime_folder()
    pins = read_pins()
    site = _site_packages(venv)
    python = _runtime_python(venv)
    if site is None or python is None:
        return RuntimePackages(None, pins, {}, f"the pins in {PINS} (no runtime built here)")
    every = installed(site)
    # A pin the runtime lacks is left out: this says what a program finds, not what was meant.
    pinned = {name: every[name] for name in pins if name in every}
    others = {name: version for name, version in sorted(every.items()) if name not in pinned}
    return RuntimePackages(python, pinned, others, f"the runtime at {venv}")


def sandbox_has(settings: SandboxSettings | None = None) -> str:
    """The sentence `grader show` prints for code items."""
    return f"The sandbox has: {runtime_packages(settings).summary()}; no network."
