"""What a warm job sees of the preloaded harness (`sandbox.warm.preload`), on either backend."""

from __future__ import annotations

import json

from grader.probe.harness import harness_files
from sandbox.base import Limits, RunRequest, Sandbox

#: Whether the harness is imported already, what `import observer` finds (its MARK and whether
#: it is the zygote's copy), and whether the job's workdir has a harness folder.
SEES_HARNESS = (
    "import json, os, sys\n"
    "before = 'observer' in sys.modules\n"
    "sys.path.insert(0, 'harness')\n"
    "try:\n"
    "    import observer\n"
    "    found = [getattr(observer, 'MARK', None), observer.__file__.startswith('/opt/grader/')]\n"
    "except ImportError:\n"
    "    found = None\n"
    "print(json.dumps([before, found, os.path.isdir('harness')]))"
)


def sees_harness(sandbox: Sandbox, backend: str, files: dict[str, bytes]) -> list[object]:
    limits = Limits(wall_s=30, cpu_s=30)
    request = RunRequest(argv=("python", "-c", SEES_HARNESS), limits=limits, files=files)
    result = sandbox.run(request)
    assert result.ok and result.backend == backend, result.stderr
    seen: list[object] = json.loads(result.stdout)
    return seen


def assert_preloaded_harness(sandbox: Sandbox, backend: str) -> None:
    """A job carrying the harness as read runs the zygote's import of it and is sent without
    it; a job carrying another harness runs its own; a job carrying none finds none."""
    assert sees_harness(sandbox, backend, harness_files()) == [True, [None, True], False]
    edited = {**harness_files(), "harness/observer.py": b"MARK = 'its own'\n"}
    assert sees_harness(sandbox, backend, edited) == [False, ["its own", False], True]
    assert sees_harness(sandbox, backend, {}) == [False, None, False]
    extra = {**harness_files(), "harness/extra.py": b""}  # more in the folder: its own files
    assert sees_harness(sandbox, backend, extra) == [False, [None, False], True]
