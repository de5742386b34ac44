"""The course server's own exceptions: every one the service raises that is not a grading error
(those are `grader.errors`). None of them reaches a student as a traceback.

    ServiceError          a request, or the server itself, stopped short on purpose
    ├── Refused           answer this request with an HTTP status and a one-line reason
    │   └── AttemptsUsedUp  409: the student used every attempt at this item of the assignment
    ├── WebhookRejected   not a validly signed, timely Standard Webhooks message (-> 401)
    └── Stopped           SIGTERM or SIGINT reached the main thread: shut down cleanly

They are not `GraderError`s: a refused request or a shutdown is no failure of grading, and the
CLI must not turn them into `error:` lines with exit 3.
"""

from __future__ import annotations

import math

from fastapi.responses import JSONResponse


class ServiceError(Exception):
    """The root of the service's exceptions."""


class Refused(ServiceError):
    """Raised inside a handler to answer with an HTTP error and a one-line reason."""

    def __init__(self, status: int, reason: str, retry_after: float | None = None) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)

    def response(self) -> JSONResponse:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return JSONResponse({"error": self.reason}, status_code=self.status, headers=headers)


class AttemptsUsedUp(Refused):
    """Raised when a student has no attempt left at an item of an assignment (409)."""

    def __init__(self, used: int, limit: int) -> None:
        self.used = used
        self.limit = limit
        super().__init__(409, f"attempts used up: {used} of {limit}")


class WebhookRejected(ServiceError):
    """Raised when a request is not a validly signed, timely Standard Webhooks message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Stopped(ServiceError):
    """Raised in the main thread by SIGTERM or SIGINT outside uvicorn's own handling."""
