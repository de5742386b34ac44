"""The runner's watchdog: where the student's code is, sent while it runs.

When the time limit runs out the sandbox kills the run at once: nobody can ask the runner then
what it was doing. So a thread of the runner samples, every `interval` seconds, the innermost
frame of `submission.py` on the main thread's stack (its line, notebook cell, code and
function), the probe running and what it has printed so far, and sends it as a `running` frame;
the observer forwards each to the channel at once, and the host shows the last one when the
limit stopped the run. The runner's clock is not the sandbox's (the interpreter and torch start
first), so it samples all along rather than once near the end. Feedback only: a program that
stops this thread loses the line, nothing else.
"""

from __future__ import annotations

import linecache
import sys
import threading
from typing import Any

#: Samples in a whole time limit, and the shortest interval between two.
SAMPLES = 40
MIN_INTERVAL_S = 0.2
#: What a sample carries of the running probe's output so far.
STDOUT_CAP = 2000
CODE_CAP = 200


class Progress:
    """What the main thread is doing, as the watchdog reads it: the probe and its output."""

    def __init__(self) -> None:
        self.probe = "load"
        self.output: Any = None  # the running probe's captured stdout (a StringIO)

    def start(self, probe: str, output: Any) -> None:
        self.probe, self.output = probe, output


class Watchdog(threading.Thread):
    """Sends a `running` frame every `interval` seconds until the pipe takes no more."""

    def __init__(
        self, writer: Any, progress: Progress, wall_s: float, where: Any, submission: str
    ) -> None:
        super().__init__(name="grader-watchdog", daemon=True)
        self.writer, self.progress = writer, progress
        self.interval = max(MIN_INTERVAL_S, float(wall_s) / SAMPLES)
        self.where, self.submission = where, submission
        self.main = threading.main_thread().ident
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(self.interval):
                if not self.writer.send({"running": self.sample()}):
                    return
        except Exception:  # noqa: BLE001 - a closed pipe, a patched module: feedback only
            return

    def sample(self) -> dict[str, Any]:
        found: dict[str, Any] = {"probe": self.progress.probe, "line": None, "cell": None}
        frame = sys._current_frames().get(self.main or 0)
        while frame is not None and frame.f_code.co_filename != self.submission:
            frame = frame.f_back
        if frame is not None:
            cell, line = self.where(frame.f_lineno)
            code = linecache.getline(self.submission, frame.f_lineno).strip()
            found |= {"line": line, "cell": cell, "code": code[:CODE_CAP]}
            found["function"] = str(frame.f_code.co_name)[:CODE_CAP]
        output = self.progress.output
        found["stdout"] = output.getvalue()[:STDOUT_CAP] if output is not None else ""
        return found
