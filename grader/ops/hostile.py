"""`grader hostile`: run the hostile-submission corpus on each backend and count the outcome.

Attacks tried, attacks contained, host damage (must be none), submissions lost (must be 0: every
attack must come back as a result, whatever it did).
"""

from __future__ import annotations

from typing import Any

from sandbox.backends import open_sandbox, wait_warm
from sandbox.errors import SandboxError
from sandbox.hostile.corpus import CORPUS
from sandbox.hostile.probes import run_attack


def hostile_figures(backend: str) -> dict[str, Any]:
    """Run every attack on one backend; unavailable backends say why."""
    try:
        sandbox = open_sandbox(backend)
    except SandboxError as exc:
        return {"backend": backend, "available": False, "why": str(exc)}
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
    return {
        "backend": backend,
        "available": True,
        "tried": tried,
        "contained": contained,
        "host_damage": damage,
        "lost": lost,
        "failures": failures,
    }


def figures_text(figures: dict[str, Any]) -> str:
    if not figures["available"]:
        return f"{figures['backend']}: unavailable ({figures['why']})"
    lines = [
        f"{figures['backend']}: tried {figures['tried']}, contained {figures['contained']}, "
        f"host damage {len(figures['host_damage'])}, lost {figures['lost']}"
    ]
    lines += [f"  {name}: {'; '.join(why)}" for name, why in figures["failures"].items()]
    return "\n".join(lines)
