"""`grader hostile`: run the hostile-submission corpus on each backend and count the outcome.

Attacks tried, attacks contained, host damage (must be none), submissions lost (must be 0: every
attack must come back as a result, whatever it did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sandbox.backends import open_sandbox, wait_warm
from sandbox.errors import SandboxError
from sandbox.hostile.corpus import CORPUS
from sandbox.hostile.probes import run_attack


@dataclass(frozen=True)
class HostileFigures:
    """One backend's count: attacks tried and contained, host damage and submissions lost (both
    must be none), and what each attack that got out did."""

    available: ClassVar[bool] = True
    backend: str
    tried: int
    contained: int
    host_damage: list[str]
    lost: int
    failures: dict[str, list[str]]

    def to_json(self) -> dict[str, object]:
        """What `grader hostile --json` prints (keys in this order)."""
        return {
            "backend": self.backend,
            "available": True,
            "tried": self.tried,
            "contained": self.contained,
            "host_damage": list(self.host_damage),
            "lost": self.lost,
            "failures": {name: list(why) for name, why in self.failures.items()},
        }


@dataclass(frozen=True)
class HostileUnavailable:
    """A backend that could not be opened, and why."""

    available: ClassVar[bool] = False
    backend: str
    why: str

    def to_json(self) -> dict[str, object]:
        return {"backend": self.backend, "available": False, "why": self.why}


def hostile_figures(backend: str) -> HostileFigures | HostileUnavailable:
    """Run every attack on one backend; unavailable backends say why."""
    try:
        sandbox = open_sandbox(backend)
    except SandboxError as exc:
        return HostileUnavailable(backend, str(exc))
    wait_warm(sandbox)  # the corpus runs on the warm path where the backend has one
    tried = contained = lost = 0
    damage: list[str] = []
    failures: dict[str, list[str]] = {}
    try:
        for attack in CORPUS:
            tried += 1
            try:
                verdict = run_attack(sandbox, attack)
            except SandboxError as exc:
                lost += 1
                failures[attack.name] = [f"lost: {exc}"]
                continue
            contained += verdict.contained
            damage += [f"{attack.name}: {d}" for d in verdict.host_damage]
            if not verdict.contained:
                failures[attack.name] = verdict.problems + verdict.host_damage
    finally:
        sandbox.close()
    return HostileFigures(backend, tried, contained, damage, lost, failures)


def figures_text(figures: HostileFigures | HostileUnavailable) -> str:
    if isinstance(figures, HostileUnavailable):
        return f"{figures.backend}: unavailable ({figures.why})"
    lines = [
        f"{figures.backend}: tried {figures.tried}, contained {figures.contained}, "
        f"host damage {len(figures.host_damage)}, lost {figures.lost}"
    ]
    lines += [f"  {name}: {'; '.join(why)}" for name, why in figures.failures.items()]
    return "\n".join(lines)
