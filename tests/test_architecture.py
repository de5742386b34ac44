"""Imports run one way: no circles, the sandbox never imports the grader, and the grading core
never imports its faces (CLI, Gradescope, service, operator tools). Function-level imports count:
an import hidden in a function is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("grader", "sandbox")
CORE = ("grader.bank", "grader.grading", "grader.probe", "grader.models", "grader.settings")
FACES = ("grader.cli", "grader.gradescope", "grader.service", "grader.ops")
#: Run inside a sandbox as plain files, never imported by the host as part of the package.
IN_SANDBOX = ("grader.probe.harness.", "sandbox.process.launcher", "sandbox.process.zygote")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules a file imports (a `from package import module` names the module)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets.add(node.module)
            targets.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in targets if name in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative enough here)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_circles() -> None:
    edges = {
        name: {t for t in targets if not name.startswith(t + ".")}  # a parent package is implicit
        for name, targets in graph().items()
    }
    assert cycles(edges) == []


def test_the_sandbox_never_imports_the_grader() -> None:
    leaks = {
        (name, target)
        for name, targets in graph().items()
        if under(name, ("sandbox",))
        for target in targets
        if under(target, ("grader",))
    }
    assert leaks == set()


@pytest.mark.parametrize("face", FACES)
def test_the_core_never_imports_a_face(face: str) -> None:
    leaks = {
        (name, target)
        for name, targets in graph().items()
        if under(name, CORE)
        for target in targets
        if under(target, (face,))
    }
    assert leaks == set()


def test_code_run_inside_a_sandbox_imports_nothing_of_the_project() -> None:
    inside = {n: t for n, t in graph().items() if n.startswith(IN_SANDBOX)}
    assert inside and all(not targets for targets in inside.values())


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
