"""The course server's own exceptions: every one the service raises that is not a grading error
(those are `grader.errors`). None of them reaches a student as a traceback.

    ServiceError          a request, or the server itself, stopped short on purpose
    ├── Refused           answer this request with an HTTP status and a one-line reason
    │   ├── AttemptsUsedUp  409: the student used every attempt at this item of the assignment
    │   └── StudentBusy     429: the student has `student_inflight` submissions still in flight
    ├── WebhookRejected   not a validly signed, timely Standard Webhooks message (-> 401)
    └── Stopped           SIGTERM or SIGINT reached the main thread: shut down cleanly

They are not `GraderError`s: a refused request or a shutdown is no failure of grading, and the
CLI must not turn them into `error:` lines with exit 3.
"""

from __future__ import annotations

import math

from fastapi.responses import JSONResponse

#: The most an error body says: a reason, and at most a short quote of what was sent.
ERROR_CAP = 300


def error_body(reason: object) -> dict[str, str]:
    """`{"error": reason}` as every refusal answers: one line, at most `ERROR_CAP` characters,
    so an error never echoes a large input back (the one place error bodies are made)."""
    text = " ".join(str(reason).split())
    if len(text) > ERROR_CAP:
        text = f"{text[: ERROR_CAP - 1]}…"
    return {"error": text}


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
        return JSONResponse(error_body(self.reason), status_code=self.status, headers=headers)


class AttemptsUsedUp(Refused):
    """Raised when a student has no attempt left at an item of an assignment (409)."""

    def __init__(self, used: int, limit: int) -> None:
        self.used = used
        self.limit = limit
        super().__init__(409, f"attempts used up: {used} of {limit}")


class StudentBusy(Refused):
    """Raised when a student already has `student_inflight` submissions queued or being graded
    (429): one student's flood waits at intake instead of in everyone's queue."""

    #: The wait suggested in `Retry-After`: about one grading.
    RETRY_AFTER_S = 10.0

    def __init__(self, in_flight: int, whose: str = "of yours") -> None:
        self.in_flight = in_flight
        reason = f"{in_flight} submissions {whose} are still being graded; wait for one"
        super().__init__(429, reason, retry_after=self.RETRY_AFTER_S)


class WebhookRejected(ServiceError):
    """Raised when a request is not a validly signed, timely Standard Webhooks message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Stopped(ServiceError):
    """Raised in the main thread by SIGTERM or SIGINT outside uvicorn's own handling."""
