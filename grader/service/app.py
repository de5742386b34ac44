"""The course server's FastAPI app: the student API, LMS webhooks, health and metrics.

Every error answers with one line of JSON, `{"error": "..."}`, never a traceback: an unknown
question 404, bad input 422 (the reason names the field), a body over the cap 413 before it is
parsed, a flood 429 with `Retry-After`, an assignment's rule `Refused` with its own status (403
closed, 409 attempts used up), and a fault of the server itself 500.

The student routes declare their own response models (api.py); the LMS route builds its answers
by hand, so its response models are declared here, where its router is mounted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from grader.errors import BadInput, UnknownQuestion
from grader.lti.routes import LtiRuntime
from grader.lti.routes import router as lti_router
from grader.lti.settings import LtiSettings
from grader.service import api_docs
from grader.service.api import router as student_router
from grader.service.bodycap import BodyCap
from grader.service.course_api import router as course_router
from grader.service.deliveries import EVENT_TYPE, REGRADE_TYPE
from grader.service.errors import Refused, error_body
from grader.service.lms import lms_router
from grader.service.metrics import metrics_registry
from grader.service.responses import CRASHED, Callback, LmsAccepted, refusals
from grader.service.state import ServiceState

log = logging.getLogger("grader.service")

#: Room for multipart boundaries and the other form fields around an upload of the full size.
FORM_OVERHEAD = 64 * 1024

LMS_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": LmsAccepted, "description": "Accepted and queued for grading."},
    200: {"model": LmsAccepted, "description": "A replayed `webhook-id`: the first submission."},
    **refusals(
        {
            401: "Not signed by a registered client's secret, or not within the time tolerance.",
            403: "The assignment is not the course's, not open yet, or closed; the reason says.",
            409: "Two copies of this `webhook-id` raced (send it again), or every attempt at "
            "this item of the assignment is used.",
            413: "The body is over the upload cap.",
            404: "An unknown question or assignment.",
            422: "A malformed body (an item not in the assignment included; keys this server "
            "does not know are ignored), or a callback URL off the client's registered hosts.",
            429: "Too many submissions from this client or for this student, or "
            "`GRADER_STUDENT_INFLIGHT` of the student's still being graded.",
        }
    ),
    **CRASHED,
}


#: What the LMS may answer a callback with (its body is never read).
CALLBACK_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Any 2xx: delivered."},
    410: {"description": "Gone: stop; the delivery fails at once."},
    "default": {"description": "Anything else: retried on the schedule in docs/webhooks.md."},
}


def create_app(state: ServiceState) -> FastAPI:
    """The app serving `state`; OpenAPI at /openapi.json, its docs at /docs."""
    app = FastAPI(
        title="torchgrader course server",
        description="Submit PyTorch exercises, read reports; LMSs post signed webhooks.",
        version="1",
        docs_url=None,  # its own page below: FastAPI's loads its scripts from a CDN
        redoc_url=None,
    )
    app.state.service = state
    registry = metrics_registry(state.sessions)
    app.add_middleware(BodyCap, limit=state.settings.max_upload_bytes + FORM_OVERHEAD)
    _add_error_handlers(app)
    app.include_router(student_router)
    app.include_router(course_router)
    app.include_router(lms_router(state), responses=LMS_RESPONSES)
    app.state.lti = LtiRuntime(LtiSettings())
    app.include_router(lti_router)

    @app.webhooks.post(EVENT_TYPE, responses=CALLBACK_ANSWERS)
    def submission_graded(body: Callback) -> None:
        """Sent to the `callback_url` of an LMS submission once it is graded; answer 2xx. The
        same `webhook-id` on a retry: drop duplicates by it (docs/webhooks.md)."""

    @app.webhooks.post(REGRADE_TYPE, responses=CALLBACK_ANSWERS)
    def submission_regraded(body: Callback) -> None:
        """A new version of the report (a regrade or an instructor's override), with a new
        `webhook-id` and a higher `data.version`: keep the highest."""

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        """The API reference as one page, built from /openapi.json, with nothing to fetch."""
        return HTMLResponse(api_docs.render(app.openapi()))

    @app.get("/metrics", tags=["operators"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text: queue depth by status, grading latency, reports by verdict."""
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message), status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    async def unknown_question(_request: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc))

    async def bad_input(_request: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _error(422, validation_reason(exc))

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), exc.headers)

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refused)
        return exc.response()

    async def unstorable(_request: Request, exc: Exception) -> JSONResponse:
        # a value the store's column types cannot hold (a NUL in a PostgreSQL string, say)
        return _error(422, "a value in the request cannot be stored or searched for (e.g. a NUL)")

    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the operator's log has more")

    app.add_exception_handler(UnknownQuestion, unknown_question)
    app.add_exception_handler(BadInput, bad_input)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(DataError, unstorable)
    app.add_exception_handler(Exception, crash)


def validation_reason(exc: RequestValidationError) -> str:
    """Pydantic's errors as one line: `question: Field required; choice: ...`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "invalid request"
