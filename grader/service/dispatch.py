"""How a stored submission reaches a grader: the in-process pool or Celery workers."""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    """Hands a committed, queued submission to whatever grades it."""

    def dispatch(self, submission_id: str, queue: str) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...
