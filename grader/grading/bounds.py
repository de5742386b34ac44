"""The one cap on a report's size: whatever a submission prints or raises, its report (stored,
sent to an LMS, read back many times) stays under `REPORT_CAP` bytes of JSON, and says where it
was cut.

Free text is what grows (a message, the program's output, what a check observed or expected, a
hint): each such field is cut to a budget that halves until the report fits, with a marker saying
how much was cut, and the notes (one per notebook cell) are kept to a number that halves with it.
Should the checks alone still not fit, the last ones are dropped and the message says how many.
"""

from __future__ import annotations

from grader.models import CheckResult, Report

REPORT_CAP = 64 * 1024
FIRST_BUDGET = 8192
LAST_BUDGET = 128
TEXT_FIELDS = ("message", "observed", "expected", "hint")
#: Characters of budget per note kept (a budget of 8192 keeps 128 notes, the last one 2).
NOTE_SHARE = 64


def bounded(report: Report) -> Report:
    """`report`, or a copy cut to fit under `REPORT_CAP` with visible markers."""
    if _size(report) <= REPORT_CAP:
        return report
    budget = FIRST_BUDGET
    while budget >= LAST_BUDGET:
        cut = _cut_text(report, budget)
        if _size(cut) <= REPORT_CAP:
            return cut
        budget //= 2
    return _drop_checks(_cut_text(report, LAST_BUDGET))


def _size(report: Report) -> int:
    return len(report.model_dump_json().encode("utf-8"))


def cut(text: str | None, budget: int) -> str | None:
    """`text` up to `budget` characters, and a marker saying how many more there were."""
    if text is None or len(text) <= budget:
        return text
    return f"{text[:budget]} … [{len(text) - budget} more characters cut: reports are capped]"


def _cut_text(report: Report, budget: int) -> Report:
    checks = [
        check.model_copy(update={f: cut(getattr(check, f), budget) for f in TEXT_FIELDS})
        for check in report.checks
    ]
    changes: dict[str, object] = {
        "checks": checks,
        "notes": _cut_notes(report.notes, budget),
        **{f: cut(getattr(report, f), budget) for f in ("message", "explanation", "output")},
    }
    return report.model_copy(update=changes)


def _cut_notes(notes: list[str], budget: int) -> list[str]:
    """The first notes, each cut to the budget, and one saying how many more there were."""
    kept = max(1, budget // NOTE_SHARE)
    shown = [cut(note, budget) or "" for note in notes[:kept]]
    more = len(notes) - kept
    return shown + ([f"{more} more notes cut: reports are capped"] if more > 0 else [])


def _drop_checks(report: Report) -> Report:
    """The checks that fit, in order, and a message naming how many did not."""
    kept: list[CheckResult] = []
    for check in report.checks:
        if _size(report.model_copy(update={"checks": [*kept, check]})) > REPORT_CAP - 512:
            break
        kept.append(check)
    dropped = len(report.checks) - len(kept)
    note = f"{dropped} more check results cut: reports are capped at {REPORT_CAP // 1024} KiB"
    message = f"{report.message} · {note}" if report.message else note
    return report.model_copy(update={"checks": kept, "message": message})
