"""Assignments: the file format (located errors, cross-checks with the bank) and each rule at its
edge: the window, the late penalty's arithmetic, scaled scores, and what each reveal level shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.courses.catalog import load_catalog
from grader.courses.rules import (
    History,
    late_penalty,
    level,
    level_now,
    practice_open,
    reveal,
    scaled,
    window,
)
from grader.grading import Grader
from grader.models import Status
from grader.models.assignment import Assignment, Level, RevealRule, assignment_json_schema
from grader.settings import GraderSettings
from sandbox.settings import REPO_ROOT

DUE = datetime(2026, 12, 8, 23, 59, tzinfo=UTC)
OPENS = DUE - timedelta(days=7)
SECOND = timedelta(seconds=1)


def assignment(**late: object) -> Assignment:
    return Assignment.model_validate(
        {
            "schema_version": 1,
            "id": "quiz",
            "title": "Quiz",
            "course": "c",
            "opens": OPENS,
            "due": DUE,
            "late": late or {"accept": "never"},
            "attempts": 3,
            "items": [{"id": "pick", "points": 2}, {"id": "other", "points": 1, "attempts": 5}],
        }
    )


@pytest.mark.parametrize(
    ("at", "taken", "words"),
    [
        (OPENS - SECOND, False, "opens at"),
        (OPENS, True, "on time"),
        (DUE, True, "on time"),
        (DUE + SECOND, False, "closed at"),
    ],
    ids=["before-opens", "at-opens", "at-due", "one-second-late"],
)
def test_the_window_refusing_late_work(at: datetime, taken: bool, words: str) -> None:
    decided = window(assignment(), at)
    assert (decided.open, words in decided.reason) == (taken, True)


@pytest.mark.parametrize(
    ("late_by", "lost"),
    [
        (SECOND, 0.1),
        (timedelta(days=1), 0.1),
        (timedelta(days=1) + SECOND, 0.2),
        (timedelta(days=3), 0.3),
    ],
    ids=["1s", "1d", "1d1s", "3d"],
)
def test_the_late_penalty_counts_started_days(late_by: timedelta, lost: float) -> None:
    rules = assignment(accept="with_penalty", penalty=0.1, per="day")
    assert late_penalty(rules, DUE + late_by) == pytest.approx(lost)
    assert window(rules, DUE + late_by).penalty == pytest.approx(lost)


def test_the_penalty_never_takes_more_than_the_score() -> None:
    rules = assignment(accept="with_penalty", penalty=0.4, per="hour")
    assert late_penalty(rules, DUE + timedelta(hours=5)) == 1.0


def test_a_cutoff_closes_late_work() -> None:
    cutoff = DUE + timedelta(days=2)
    rules = assignment(accept="until_cutoff", cutoff=cutoff)
    assert window(rules, cutoff).open and window(rules, cutoff).penalty == 0
    assert not window(rules, cutoff + SECOND).open


def test_per_item_attempts_override_the_assignment_s() -> None:
    rules = assignment()
    assert (rules.attempt_limit("pick"), rules.attempt_limit("other")) == (3, 5)


def test_scores_scale_to_the_assignment_s_points_after_the_penalty(tmp_path: Path) -> None:
    report = mcq_report(tmp_path, "A")
    assert scaled(report, 2.0, 0.25) == (1.5, 2.0)


@pytest.mark.parametrize(
    ("rule", "history", "due_passed", "shown"),
    [
        (RevealRule(), History(1, False), False, Level.VERDICT),
        (RevealRule(), History(1, False), True, Level.KEY),
        (RevealRule(feedback="always"), History(1, False), False, Level.FEEDBACK),
        (RevealRule(feedback="after_correct"), History(2, False), False, Level.VERDICT),
        (RevealRule(feedback="after_correct"), History(2, True), False, Level.FEEDBACK),
        (RevealRule(feedback={"after_attempts": 3}), History(2, False), False, Level.VERDICT),
        (RevealRule(feedback={"after_attempts": 3}), History(3, False), False, Level.FEEDBACK),
        (
            RevealRule(feedback="always", checks="never", key="always"),
            History(1, True),
            True,
            Level.FEEDBACK,
        ),
        (RevealRule(feedback="never", key="always"), History(1, True), True, Level.VERDICT),
    ],
)
def test_the_level_shown(
    rule: RevealRule, history: History, due_passed: bool, shown: Level
) -> None:
    assert level(rule, history, due_passed) is shown


HEADER = "schema_version: 1\ndifficulty: easy\nexplanation: Because B is the right one.\n"
MCQ = (
    HEADER
    + """id: pick
kind: mcq
title: Pick
prompt: Which?
choices:
  - {text: right, feedback: Yes indeed.}
  - {text: wrong, feedback: "No: the answer is A."}
answer: A
"""
)
NUMERIC = (
    HEADER
    + """id: other
kind: numeric
title: A number
prompt: How much?
answer: 0.85
tolerance: {absolute: 0.01}
"""
)


def write_bank(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pick.yaml").write_text(MCQ)
    (folder / "other.yaml").write_text(NUMERIC)
    return folder


def mcq_report(tmp_path: Path, answer: str):  # type: ignore[no-untyped-def]
    bank = load_bank([write_bank(tmp_path / "bank")])
    return Grader(bank, settings=GraderSettings(cache=tmp_path / "cache")).grade("pick", answer)


def text_of(report) -> str:  # type: ignore[no-untyped-def]
    return report.model_dump_json()


@pytest.mark.parametrize("shown", list(Level))
def test_a_wrong_mcq_answer_reveals_only_what_its_level_allows(
    tmp_path: Path, shown: Level
) -> None:
    report = reveal(mcq_report(tmp_path, "B"), "mcq", shown)
    text = text_of(report)
    assert report.status is Status.FAILED and report.score == 0
    assert ("the answer is A" in text) is (shown >= Level.FEEDBACK)
    assert ("Because B" in text) is (shown >= Level.KEY)
    assert (report.checks[0].expected == "A") is (shown >= Level.KEY)


@pytest.mark.parametrize("shown", list(Level))
def test_a_numeric_answer_hides_the_accepted_range_until_the_key(
    tmp_path: Path, shown: Level
) -> None:
    bank = load_bank([write_bank(tmp_path / "bank")])
    report = reveal(Grader(bank).grade("other", "0.5"), "numeric", shown)
    text = text_of(report)
    assert ("0.85" in text) is (shown >= Level.KEY)
    assert ("0.01" in text) is (shown >= Level.KEY)


ASSIGNMENT = """schema_version: 1
id: {id}
title: Quiz
course: c
opens: 2026-12-01T09:00:00+01:00
due: {due}
items:
  - {{id: pick, points: 2}}
  - {{id: {item}, points: 1}}
"""


def test_assignment_files_are_checked_with_locations(tmp_path: Path) -> None:
    bank = load_bank([write_bank(tmp_path / "bank")])
    folder = tmp_path / "assignments"
    folder.mkdir()
    (folder / "good.yaml").write_text(
        ASSIGNMENT.format(id="good", due="2026-12-08T09:00:00+01:00", item="other")
    )
    (folder / "unknown-item.yaml").write_text(
        ASSIGNMENT.format(id="unknown-item", due="2026-12-08T09:00:00+01:00", item="nope")
    )
    (folder / "naive.yaml").write_text(
        ASSIGNMENT.format(id="naive", due="2026-12-08T09:00:00", item="other")
    )
    (folder / "backwards.yaml").write_text(
        ASSIGNMENT.format(id="backwards", due="2026-11-08T09:00:00+01:00", item="other")
    )
    catalog = load_catalog(folder, bank)
    assert list(catalog.assignments) == ["good"]
    found = {Path(i.file).stem: str(i) for i in catalog.issues}
    assert (
        "unknown-item.yaml:9:" in found["unknown-item"]
        and "no item 'nope'" in found["unknown-item"]
    )
    assert "naive.yaml:6:" in found["naive"] and "timezone" in found["naive"]
    assert "due must be after opens" in found["backwards"]


def test_the_example_assignment_is_valid() -> None:
    settings = GraderSettings()
    catalog = load_catalog(REPO_ROOT / "docs" / "examples", load_bank([settings.bank]))
    assert catalog.issues == [] and "transfer-learning-quiz" in catalog.assignments


def test_the_committed_assignment_schema_is_current() -> None:
    committed = json.loads((REPO_ROOT / "assignments" / "assignment.schema.json").read_text())
    assert committed == assignment_json_schema(), "run `make schema`"


def with_reveal(assignment_id: str, reveal: dict[str, object], **changes: object) -> Assignment:
    document = assignment().model_dump() | {"id": assignment_id, "reveal": reveal} | changes
    return Assignment.model_validate(document)


def test_after_due_waits_for_the_last_moment_late_work_is_taken() -> None:
    cutoff = DUE + timedelta(days=2)
    rules_ = with_reveal("q", {}, late={"accept": "with_penalty", "penalty": 0.1, "cutoff": cutoff})
    first = History(1, False)
    assert level_now([rules_], rules_, {"pick"}, "mcq", first, DUE + SECOND) is Level.VERDICT
    assert level_now([rules_], rules_, {"pick"}, "mcq", first, cutoff + SECOND) is Level.KEY


def test_a_looser_assignment_listing_the_item_cannot_show_more() -> None:
    warmup = with_reveal(
        "warmup", {"mcq": {"feedback": "always", "checks": "always", "key": "always"}}
    )
    exam = with_reveal("exam", {})
    both = [warmup, exam]
    assert level_now([warmup], warmup, {"pick"}, "mcq", History(1, False), DUE) is Level.KEY
    assert level_now(both, warmup, {"pick"}, "mcq", History(1, False), DUE) is Level.VERDICT
    assert level_now(both, warmup, {"pick"}, "mcq", History(1, False), DUE + SECOND) is Level.KEY


@pytest.mark.parametrize(
    ("reveal", "open_after_close"),
    [({}, True), ({"code": {"checks": "never", "key": "after_due"}}, False)],
    ids=["all-after-due", "checks-never"],
)
def test_practice_reopens_only_where_everything_would_be_shown(
    reveal: dict[str, object], open_after_close: bool
) -> None:
    rules_ = with_reveal("q", reveal)
    assert not practice_open([rules_], {"pick"}, "code", DUE)
    assert practice_open([rules_], {"pick"}, "code", DUE + SECOND) is open_after_close
    assert practice_open([rules_], {"not-listed"}, "code", DUE)


def test_two_assignment_files_with_one_id_are_a_problem(tmp_path: Path) -> None:
    bank = load_bank([write_bank(tmp_path / "bank")])
    for folder in ("a", "b"):
        (tmp_path / "assignments" / folder).mkdir(parents=True)
        (tmp_path / "assignments" / folder / "quiz.yaml").write_text(
            ASSIGNMENT.format(id="quiz", due="2026-12-08T09:00:00+01:00", item="other")
        )
    catalog = load_catalog(tmp_path / "assignments", bank)
    assert any("duplicate assignment id 'quiz'" in str(i) for i in catalog.issues)
