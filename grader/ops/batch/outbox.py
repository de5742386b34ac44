"""Where a batch writes: a report per submission in `reports/`, scores.csv appended row by row,
and the summary of counts and times."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import BadInput
from grader.files import write_whole
from grader.models import Report, Status
from grader.ops.batch.sources import Entry

COLUMNS = (
    "name",
    "student",
    "score",
    "max_score",
    "verdict",
    "status",
    "duration_s",
    "report",
    "message",
)
UNREADABLE = "unreadable"


def report_names(entries: Sequence[Entry]) -> list[str]:
    """Each entry's report file name in `reports/`: its label with each run of characters other
    than letters, digits, `.` and `-` made one `_` (no separator, no `..`, nothing hidden), at
    most 100 characters, then `-2`, `-3`, ... where two would be the same (case ignored, as some
    file systems do)."""
    taken: set[str] = set()
    names = []
    for entry in entries:
        stem = re.sub(r"[^A-Za-z0-9.-]+", "_", entry.label).strip("._-")[:100] or "submission"
        name, n = stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.casefold())
        names.append(f"{name}.json")
    return names


@dataclass(frozen=True)
class Row:
    """One submission's line of scores.csv: its report and how the batch got it."""

    index: int
    entry: Entry
    report: Report
    status: str
    report_file: str

    def cells(self) -> list[str]:
        report = self.report
        said = self.status in (UNREADABLE, Status.ERROR.value) and report.message
        return [
            _cell(self.entry.name),
            _cell(self.entry.student),
            f"{report.score:g}",
            f"{report.max_score:g}",
            report.verdict.value,
            self.status,
            f"{report.duration_s:.3f}",
            self.report_file,
            _cell(report.message.splitlines()[0] if said and report.message else ""),
        ]


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run: one starting with `=`, `+`, `-`, `@` or a
    control character gets a leading `'` (OWASP's advice on CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Outbox:
    """`--out DIR`: `reports/NAME.json` per submission and `scores.csv`, a row appended (and
    flushed) as each submission is graded, then rewritten atomically in the submissions' order
    by `finish`. A folder that is neither empty nor a batch's output is refused; a batch's
    output (it has scores.csv) is replaced."""

    def __init__(self, out: Path) -> None:
        check_out(out)
        self.out = out
        self.reports = out / "reports"
        self.reports.mkdir(parents=True, exist_ok=True)
        for old in self.reports.glob("*.json"):
            old.unlink()
        self.scores = out / "scores.csv"
        self._file = self.scores.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        self._append(list(COLUMNS))
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        report = self.reports / row.report_file
        write_whole(report, row.report.model_dump_json(indent=2).encode())
        self.rows.append(row)
        self._append(row.cells())

    def _append(self, cells: list[str]) -> None:
        self._csv.writerow(cells)
        self._file.flush()

    def finish(self) -> None:
        """scores.csv in the submissions' order, atomically (the appended one until then)."""
        self._file.close()
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in sorted(self.rows, key=lambda r: r.index))
        write_whole(self.scores, text.getvalue().encode(), sync=True)  # the host's crash too


def check_out(out: Path) -> None:
    """`BadInput` unless `out` may hold a batch's output: absent, empty, or a batch's output."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: not a folder; --out names the folder for the scores")
    if out.is_dir() and any(out.iterdir()) and not (out / "scores.csv").is_file():
        raise BadInput(f"{out}: not empty and not a batch's output; choose another --out")


@dataclass
class Summary:
    """What a batch did: counts by status, and its times (start-up: the sandbox, its warm pool
    and the reference; grading: from the first submission to the last report)."""

    item: str
    total: int
    backend: str
    jobs: int
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    startup_s: float = 0.0
    grading_s: float = 0.0

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def rate(self) -> float:
        """Submissions per second while grading."""
        return self.done / self.grading_s if self.grading_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "total": self.total,
            "done": self.done,
            **{k: self.counts.get(k, 0) for k in ("passed", "failed", UNREADABLE, "error")},
            "backend": self.backend,
            "jobs": self.jobs,
            "startup_s": round(self.startup_s, 3),
            "grading_s": round(self.grading_s, 3),
            "jobs_per_s": round(self.rate, 2),
            "scores": str(self.out / "scores.csv"),
            "reports": str(self.out / "reports"),
        }
