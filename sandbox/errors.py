"""Failures of a sandbox itself (never of the code it runs).

    SandboxError                 exit 3: the grader could not grade
    ├── SandboxUnavailable       the backend cannot run on this host (engine, image, runtime)
    ├── IsolationRefused         the host cannot give an isolation the operator requires
    ├── SandboxFailure           the backend broke while running a job (engine error, I/O error)
    └── WeightsError             exit 2: a weights file or the weights cache is bad input

What student code does (crash, time out, exhaust memory) is a `RunResult`, not an exception.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Raised when a sandbox backend itself fails; the grader reports status `error`."""

    exit_code = 3


class SandboxUnavailable(SandboxError):
    """Raised when a backend cannot run on this host: say what is missing and how to get it."""


class IsolationRefused(SandboxError):
    """Raised when an isolation the operator requires cannot be had on this host."""


class SandboxFailure(SandboxError):
    """Raised when the backend breaks mid-job (engine API error, lost container, I/O error)."""


class WeightsError(SandboxError):
    """Raised when a weights file is refused (hash mismatch, unreadable) or stand-ins fail."""

    exit_code = 2
