"""A byte cap on request bodies, enforced before anything parses them (HTTP 413).

A declared `Content-Length` over the cap is refused before a byte is read. A chunked body, which
declares nothing, is counted as it streams in: the read that crosses the cap raises `BodyTooLarge`
(an HTTPException, so FastAPI's body parsing lets it through to the 413 handler). Nothing past the
cap is ever buffered; up to `DRAIN_CAP` more is read and dropped before the 413 is sent, so a
client still sending sees the answer, not a reset connection.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.service.errors import error_body


class BodyTooLarge(HTTPException):
    """Raised when a request body grows past the cap while it is being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyCap:
    """ASGI middleware: bodies over `limit` bytes get 413 with a one-line JSON reason."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await drain(receive)
            await refuse(send, BodyTooLarge(self.limit))
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await drain(receive)
            await refuse(send, exc)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


#: How much of a refused body is read and dropped before the 413: a client that sends its whole
#: body before reading (no `Expect: 100-continue`) then reads the 413 instead of a reset
#: connection. Beyond this much the connection is closed anyway.
DRAIN_CAP = 16 * 1024 * 1024


async def drain(receive: Receive, budget: int = DRAIN_CAP) -> None:
    """Read and drop the rest of the request body, up to `budget` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def refuse(send: Send, exc: HTTPException) -> None:
    """Answer with the error's status and `{"error": detail}`; the connection is then closed."""
    body = json.dumps(error_body(exc.detail), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
