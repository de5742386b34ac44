"""Run the hostile corpus against a sandbox and judge it from the host's side.

`run_attack(sandbox, attack)` plants what the attack hunts for (a secret in the grader's env, a
listening port, a victim file), runs the attack's programs, and returns a `AttackVerdict`: the
expectations that failed, and separately the damage seen on the host (a victim file changed, a
connection accepted, a process that outlived its run, a host that cannot fork).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandbox.base import RunRequest, RunResult, Sandbox
from sandbox.hostile.corpus import Attack, Containment
from sandbox.settings import REPO_ROOT


@dataclass
class AttackVerdict:
    """How one attack went: contained when there are no problems and no host damage."""

    attack: str
    problems: list[str] = field(default_factory=list)
    host_damage: list[str] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list)

    @property
    def contained(self) -> bool:
        return not self.problems and not self.host_damage


class Probe:
    """Host-side setup for one attack: `env` for the program, then what the host saw."""

    def env(self) -> dict[str, str]:
        return {}

    def damage(self, results: list[RunResult]) -> list[str]:
        return []

    def close(self) -> None:
        """Undo the setup."""


class Listener(Probe):
    """A TCP port open on the host's loopback; any connection that reaches it is damage."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.setblocking(False)

    def env(self) -> dict[str, str]:
        return {"HOSTILE_PORT": str(self.server.getsockname()[1])}

    def damage(self, results: list[RunResult]) -> list[str]:
        try:
            conn, peer = self.server.accept()
        except BlockingIOError:
            return []
        conn.close()
        return [f"the program connected to the host's port from {peer}"]

    def close(self) -> None:
        self.server.close()


class Secrets(Probe):
    """A secret in the grader's env and files the program must not see: the repo's keys too."""

    def __init__(self) -> None:
        self.value = f"hostile-secret-{secrets.token_hex(8)}"
        self.folder = Path(tempfile.mkdtemp(prefix="hostile-secrets-"))
        self.file = self.folder / "secret.txt"
        self.file.write_text(self.value)
        self.saved = {name: os.environ.get(name) for name in ("GRADER_HOSTILE_SECRET", "API_KEY")}
        os.environ["GRADER_HOSTILE_SECRET"] = self.value
        os.environ["API_KEY"] = self.value

    def env(self) -> dict[str, str]:
        repo = [REPO_ROOT / name for name in ("solutions", "questions", ".git", "pyproject.toml")]
        host = ["/root/.bashrc", "/root/.gitconfig", "/root/.ssh", "/etc/shadow"]
        paths = [str(self.file), str(self.folder), *map(str, repo), *host]
        return {"HOSTILE_PATHS": json.dumps(paths)}

    def damage(self, results: list[RunResult]) -> list[str]:
        seen = [r for r in results if self.value.encode() in r.stdout + r.stderr + r.channel]
        return ["the grader's secret reached the program"] if seen else []

    def close(self) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(self.folder, ignore_errors=True)


class Victim(Probe):
    """A host file the program symlinks to: it must stay unchanged and unread."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hostile-victim-"))
        self.file = self.folder / "victim.txt"
        self.text = f"victim-{secrets.token_hex(8)}"
        self.file.write_text(self.text)

    def env(self) -> dict[str, str]:
        return {"HOSTILE_VICTIM": str(self.file)}

    def damage(self, results: list[RunResult]) -> list[str]:
        found = []
        if self.file.read_text() != self.text:
            found.append(f"the host file {self.file} was changed")
        if any(self.text.encode() in r.stdout + r.stderr + r.channel for r in results):
            found.append("the host read the victim file back through a planted link")
        if any(b"root:x:0:0:root:/root:" in r.channel for r in results):
            found.append("the host read /etc/passwd back through a planted link")
        return found

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


PROBES: dict[str, type[Probe]] = {
    "listener": Listener,
    "secrets": Secrets,
    "victim": Victim,
}


def marked_pids(marker: str) -> list[int]:
    """Host processes whose command line carries the run's marker."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in Path("/proc", entry, "cmdline").read_bytes():
                found.append(int(entry))
    return found


class Watch:
    """Watches the host's process table during a run: was a marked process ever seen?"""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.seen = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            self.seen = max(self.seen, len(marked_pids(self.marker)))

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.thread.start()
        try:
            yield
        finally:
            self.stop.set()
            self.thread.join()


def survivors(marker: str, grace_s: float = 1.0) -> list[int]:
    """Marked processes still alive `grace_s` after the run returned."""
    deadline = time.monotonic() + grace_s
    while (pids := marked_pids(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def host_can_fork() -> bool:
    try:
        return subprocess.run(["true"], timeout=10, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def expectation_problems(expect: Containment, result: RunResult, took_s: float) -> list[str]:
    """Each way the result differs from what a contained run looks like."""
    problems = []
    for name in ("exit_code", "timed_out", "memory_exceeded", "output_exceeded"):
        wanted = getattr(expect, name)
        if wanted is not None and getattr(result, name) != wanted:
            problems.append(f"expected {name}={wanted}, got {getattr(result, name)}")
    if expect.channel_exceeded is not None and result.channel_exceeded != expect.channel_exceeded:
        problems.append(f"expected channel_exceeded={expect.channel_exceeded}")
    if expect.within_s is not None and took_s > expect.within_s:
        problems.append(f"took {took_s:.1f} s, more than {expect.within_s} s")
    text = result.stdout.decode(errors="replace")
    problems += [f"never said {line!r}" for line in expect.says if line not in text]
    for stream in (result.stdout, result.stderr, result.channel):
        problems += [
            f"program reported: {line.decode(errors='replace')[:300]}"
            for line in stream.splitlines()
            if line.startswith(b"LEAK")
        ]
    return problems


def cap_problems(request: RunRequest, result: RunResult) -> list[str]:
    limits, found = request.limits, []
    for name, data, cap in (
        ("stdout", result.stdout, limits.output_bytes),
        ("stderr", result.stderr, limits.output_bytes),
        ("channel", result.channel, limits.channel_bytes),
    ):
        if len(data) > cap:
            found.append(f"{name} holds {len(data)} bytes, over its cap of {cap}")
    return found


def _request(attack: Attack, index: int, marker: str, env: dict[str, str]) -> RunRequest:
    limits = {k: v for k, v in asdict(attack.limits).items() if isinstance(v, int | float)}
    return RunRequest(
        argv=("python", "-c", attack.program(index), marker),
        limits=attack.limits,
        env={**env, "HOSTILE_LIMITS": json.dumps(limits)},
    )


def run_attack(sandbox: Sandbox, attack: Attack) -> AttackVerdict:
    """Run every program of `attack` in `sandbox` and judge the outcome."""
    verdict = AttackVerdict(attack.name)
    marker = f"hostile-{attack.name}-{secrets.token_hex(6)}"
    probes = [PROBES[name]() for name in attack.probes if name in PROBES]
    watch = Watch(f"{marker}-daemon")
    try:
        env = {k: v for probe in probes for k, v in probe.env().items()}
        with watch.running():
            for index in range(len(attack.sources)):
                request = _request(attack, index, marker, env)
                start = time.monotonic()
                result = sandbox.run(request)
                took = time.monotonic() - start
                verdict.results.append(result)
                verdict.problems += expectation_problems(attack.expect, result, took)
                verdict.problems += cap_problems(request, result)
        verdict.host_damage += _host_damage(probes, verdict.results, marker)
        if "watch" in attack.probes and not watch.seen:
            verdict.problems.append("the program's child was never seen running on the host")
    finally:
        for probe in probes:
            probe.close()
    return verdict


def _host_damage(probes: list[Probe], results: list[RunResult], marker: str) -> list[str]:
    damage = [line for probe in probes for line in probe.damage(results)]
    alive = survivors(marker)
    if alive:
        damage.append(f"processes outlived the run: {alive}")
    if not host_can_fork():
        damage.append("the host cannot start a process after the run")
    return damage
