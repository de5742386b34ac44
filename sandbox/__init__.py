"""Run untrusted code under limits and report what happened.

The grader never imports student code; it hands a `RunRequest` to a `Sandbox` and reads the
`RunResult`. Backends: `process` (local, the embedded default) and `container` (Docker).
"""

from sandbox.base import GpuPolicy, Isolation, Limits, RunRequest, RunResult, Sandbox

__all__ = ["GpuPolicy", "Isolation", "Limits", "RunRequest", "RunResult", "Sandbox"]
