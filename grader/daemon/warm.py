"""The daemon's grader: one sandbox with its warm pool, the bank loaded, one check at a time.

A check is graded as `grader check` grades it one-shot (grader/cli/grading.py: the item looked
up first, then the file read, then the variant picked and graded), from the bytes the client
sent, never from a path. What the one-shot path would print on stderr (a note that `--seed` is
ignored) is caught and sent back for the client to print.

Only answers the one-shot path would give itself come back: a report that passed or failed, or
bad input (exit 2). A report of status `error`, or a failure of the sandbox or of the grader,
may be this daemon's own trouble (a broken pool), so the client is told to grade one-shot.

The bank is loaded when the daemon starts and again when a check finds that a file under the
bank folder was added, removed or changed (size or modification time): a student who edits an
item, or updates the course's bank, is graded on what is on disk now.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import threading
from collections.abc import Callable
from contextlib import redirect_stderr
from typing import TYPE_CHECKING, Any

from grader.bank import load_bank
from grader.cli.columns import exit_code
from grader.cli.render import report_text
from grader.cli.views import items_cache, variant_of
from grader.errors import BadInput, GraderError
from grader.grading import Grader
from grader.grading.submission import source_from_bytes
from sandbox.backends import open_sandbox
from sandbox.errors import SandboxError
from sandbox.warm.pool import WarmPool

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.models import Report
    from grader.settings import GraderSettings
    from sandbox.base import Sandbox

log = logging.getLogger(__name__)
BankPrint = dict[str, tuple[int, int]]


class WarmGrader:
    """Grades checks with a sandbox kept open; `close()` ends it."""

    def __init__(self, settings: GraderSettings) -> None:
        self.settings = settings
        self.sandbox: Sandbox = open_sandbox(settings.backend, settings.sandbox)
        self._lock = threading.Lock()
        self._print: BankPrint = {}
        try:
            self._grader = self._load()
        except BaseException:
            self.sandbox.close()  # its zygotes, already starting, go with it
            raise

    def check(self, request: dict[str, Any], wanted: Callable[[], bool]) -> dict[str, Any] | None:
        """The reply to one check request (see grader/daemon/protocol.py); None, without
        grading, when `wanted()` says its client hung up while it waited its turn."""
        with self._lock:
            if not wanted():
                return None
            if self._bank_print() != self._print:
                self._grader = self._load()
            caught = io.StringIO()
            with redirect_stderr(caught):
                reply = self._grade(self._grader, request)
        return reply | {"stderr": caught.getvalue()}

    def _grade(self, grader: Grader, request: dict[str, Any]) -> dict[str, Any]:
        try:
            item_id, name = str(request["item"]), str(request["name"])
            seed = request.get("seed")
            data = base64.b64decode(request["data"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            return {"fallback": f"a malformed check request ({exc!r})"}
        try:
            grader.bank.get(item_id)  # an unknown id is reported before the file is read
            source = source_from_bytes(data, name)
            item = variant_of(grader.bank, item_id, seed if isinstance(seed, int) else None)
            report = grader.grade(item, source)
        except BadInput as exc:
            return {"error": str(exc), "exit_code": exc.exit_code}
        except (GraderError, SandboxError) as exc:
            return {"fallback": f"{type(exc).__name__}: {exc}"}
        if report.status.value == "error":
            return {"fallback": "the report is a grader error"}
        return printed(report)

    def _load(self) -> Grader:
        """A grader on the bank as it is on disk now, with the open sandbox."""
        before = self._bank_print()
        bank: Bank = load_bank([self.settings.bank], cache=items_cache(self.settings))
        self._print = before  # a file changed while loading is seen by the next check
        log.info("bank loaded: %d item(s) from %s", len(bank.items), self.settings.bank)
        return Grader(bank, sandbox=self.sandbox, settings=self.settings)

    def _bank_print(self) -> BankPrint:
        """Every file under the bank folder by size and modification time (cheap: stat only)."""
        found: BankPrint = {}
        for folder, _, files in os.walk(self.settings.bank):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                found[path] = (info.st_size, info.st_mtime_ns)
        return found

    def status(self) -> dict[str, Any]:
        return {
            "bank": str(self.settings.bank),
            "backend": self.settings.backend,
            "pool": pool_counts(self.sandbox),
        }

    def close(self) -> None:
        """Wait for the check in flight, then close the sandbox (its pool's zygotes too)."""
        with self._lock:
            self.sandbox.close()


def printed(report: Report) -> dict[str, Any]:
    """A report's reply: its JSON, and what `grader check` prints of it where stdout is not a
    terminal (text or `--json`) with its exit code, made by the one-shot path's own functions,
    so a client printing them needs neither pydantic nor the renderer."""
    return {
        "report": json.loads(report.model_dump_json()),
        "text": report_text(report),
        "json_text": report.model_dump_json(indent=2),
        "exit_code": exit_code(report),
    }


def pool_counts(sandbox: Sandbox) -> dict[str, int] | None:
    """Warm sandboxes ready, busy and starting, over the backend's pools; None without one."""
    warm = getattr(sandbox, "warm", None)
    pools = getattr(warm, "pools", None)
    found = list(pools.values()) if isinstance(pools, dict) else [getattr(warm, "pool", None)]
    counts = [pool.counts() for pool in found if isinstance(pool, WarmPool)]
    if not counts:
        return None
    return {key: sum(c[key] for c in counts) for key in ("ready", "busy", "starting")}
