"""`grader check` and `grader answer` grade one answer: their sandbox runs cold, as with
GRADER_WARM=0, even where warm pools are on (issue 16: a one-shot check started a pool it never
used and took 1.7x as long)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.cli.grading import one_shot
from grader.settings import GraderSettings
from sandbox.errors import SandboxUnavailable
from sandbox.process import ProcessSandbox
from sandbox.process.warm import WarmRunner
from tests.grader.items import mcq


def test_a_one_shot_grader_runs_cold_where_pools_are_on(tmp_path: Path) -> None:
    mcq(tmp_path)
    settings = GraderSettings(backend="process")
    assert settings.sandbox.warm  # the default: warm pools on
    with one_shot(load_bank([tmp_path]), lambda: settings) as grader:
        try:
            sandbox = grader.sandbox
        except SandboxUnavailable as exc:
            pytest.skip(f"process backend unavailable: {exc}")
        assert isinstance(sandbox, ProcessSandbox)
        if not WarmRunner.usable(sandbox.controllers, sandbox.namespaces, sandbox.root):
            pytest.skip("no warm pool on this host: the check would prove nothing")
        assert sandbox.warm is None and grader.settings.sandbox.warm is False
