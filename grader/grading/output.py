"""What the student's program printed, for the report's `output`: the first 4 KiB, printable.

The runner captures what each part of the run prints on stdout and stderr (loading the file,
each check's target; stderr is copied, it still reaches the sandbox's stream and its limit); the
sandbox keeps stdout written past the capture (a write to the descriptor itself, a thread
printing between checks). Its stderr is not shown: it holds the same text again, and a hidden
check's with it. Each part is labelled; a hidden check's output is left out (a hidden check never
shows its inputs). Feedback only: it never decides anything.
"""

from __future__ import annotations

from grader.models import CodeItem
from grader.probe.channel import LOAD
from grader.probe.harness.wire import TEXT_CAP
from grader.probe.plan import probe_id
from grader.probe.run import Run
from grader.probe.summaries import Observation
from grader.text import printable

#: Characters of output a report carries.
OUTPUT_CAP = 4096


def student_output(item: CodeItem, run: Run) -> str | None:
    """The labelled parts that printed anything, cut to `OUTPUT_CAP` with a marker."""
    parts = [(label, text) for label, text in _parts(item, run) if text.strip()]
    if not parts:
        return None
    whole = "\n".join(f"[{label}]\n{text.rstrip()}" for label, text in parts)
    return printable(_capped(whole))


def _parts(item: CodeItem, run: Run) -> list[tuple[str, str]]:
    observations = run.observations
    parts = _printed("while loading your file", observations.get(LOAD))
    for check in item.checks:
        if not check.hidden and probe_id(check) != LOAD:
            parts += _printed(f"check {check.name}", observations.get(probe_id(check)))
    parts.append(_interrupted(item, run))
    parts.append(("stdout, outside the checks", _text(run.result.stdout)))
    return parts


def _printed(label: str, seen: Observation | None) -> list[tuple[str, str]]:
    if seen is None:
        return []
    stdout, stderr = str(seen.get("stdout", "")), str(seen.get("stderr", ""))
    return [(label, _marked(stdout)), (f"{label}, stderr", _marked(stderr))]


def _marked(text: str) -> str:
    """A part the observer cut at its cap says so."""
    return f"{text}\n... [cut at {TEXT_CAP} characters]" if len(text) >= TEXT_CAP else text


def _interrupted(item: CodeItem, run: Run) -> tuple[str, str]:
    """What the part still running when the run was stopped had printed, as last sampled."""
    running = run.observations.running
    if running is None or run.observations.get(str(running.get("probe"))) is not None:
        return ("", "")
    probe = str(running.get("probe"))
    hidden = any(c.hidden for c in item.checks if probe_id(c) == probe != LOAD)
    label = "while loading your file" if probe == LOAD else f"check {probe}"
    return (f"{label}, until it was stopped", "" if hidden else str(running.get("stdout", "")))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _capped(text: str) -> str:
    if len(text) <= OUTPUT_CAP:
        return text
    return f"{text[:OUTPUT_CAP]}\n... [{len(text) - OUTPUT_CAP} more characters cut]"
