"""A real HTTP server on loopback that plays an LMS's callback endpoint.

It checks every delivery's Standard Webhooks signature with the reference `standardwebhooks`
package (not the grader's own code), records what arrived, and answers as scripted: fail the next
N requests, answer 410, redirect, send `Retry-After`. Use it as a context manager:

    with Receiver(secret) as lms:
        lms.script(Reply(500), Reply(500))   # then 200s
        ... lms.url + "/hook" ...
        lms.wait_for(3)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standardwebhooks


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One request as the receiver saw it; `verified` says whether a known secret signed it."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: no thread outlives a test
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        reply = self.server.receiver._record(self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


class Receiver:
    """A callback endpoint on 127.0.0.1 that verifies, records and answers as scripted."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = list(secrets)
        self.deliveries: list[Delivery] = []
        self._replies: list[Reply] = []
        self._changed = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order; 200 after they run out."""
        with self._changed:
            self._replies.extend(replies)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        """The deliveries once at least `count` arrived; AssertionError if they do not in time."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert arrived, f"{len(self.deliveries)} of {count} deliveries arrived"
            return list(self.deliveries)

    def _verified(self, headers: dict[str, str], body: bytes) -> bool:
        for secret in self.secrets:
            try:
                standardwebhooks.Webhook(secret).verify(body, headers)
                return True
            except standardwebhooks.WebhookVerificationError:
                continue
        return False

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        verified = self._verified(headers, body)
        with self._changed:
            reply = self._replies.pop(0) if self._replies else Reply()
            self.deliveries.append(Delivery(path, headers, body, verified, reply.status))
            self._changed.notify_all()
        return reply
