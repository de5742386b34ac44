"""`grader tokens` on a store of its own, and what the instructor commands print, from bodies
shaped as the server sends them. The commands against a real server: tests/service/."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.cli.app import main
from grader.cli.client import show_view
from grader.cli.course import history_lines, stats_from_json
from grader.cli.render import report_text
from grader.cli.service import expiry
from grader.courses import stats_html, stats_text
from grader.courses.stats import Attempt, ItemInfo, item_stats
from grader.errors import BadInput, ServerUnavailable
from grader.models import Report
from tests.grader.test_cli import one_error_line, run


def tokens_list(capsys: pytest.CaptureFixture[str], db: str, *argv: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, "tokens", "list", "--json", "--db", db, *argv)
    assert code == 0, err
    rows: list[dict[str, object]] = json.loads(out)
    return rows


# -- tokens ------------------------------------------------------------------------------------


def test_import_twice_creates_nothing_the_second_time(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("email,student\na@x,ann\nb@x,bob\n,\nb@x,bob\n", encoding="utf-8")
    out_file = tmp_path / "tokens.csv"
    code, out, err = run(
        capsys,
        "tokens",
        "import",
        str(roster),
        "--course",
        "c1",
        "--out",
        str(out_file),
        "--db",
        db,
    )
    assert code == 0, err
    assert out == "" and "created 2 token(s), kept 0 existing" in err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [row["student"] for row in rows] == ["ann", "bob"]
    assert all(row["token"].startswith("gt_") for row in rows)

    roster.write_text("student\nann\nbob\ncid\n", encoding="utf-8")
    code, out, err = run(capsys, "tokens", "import", str(roster), "--course", "c1", "--db", db)
    assert code == 0, err
    assert "created 1 token(s), kept 2 existing" in err
    [(student, token)] = list(csv.reader(io.StringIO(out)))[1:]
    assert student == "cid" and token.startswith("gt_")
    assert sorted(str(row["name"]) for row in tokens_list(capsys, db)) == ["ann", "bob", "cid"]


def test_import_never_overwrites_an_out_file(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nann\n", encoding="utf-8")
    existing = tmp_path / "tokens.csv"
    existing.write_text("student,token\nzed,gt_keep\n")
    argv = ["tokens", "import", str(roster), "--course", "c1", "--out", str(existing)]
    code, _, err = run(capsys, *argv, "--db", db)
    assert code == 2 and "exists" in one_error_line(err)
    assert existing.read_text() == "student,token\nzed,gt_keep\n"
    assert tokens_list(capsys, db) == []  # refused before any token was made


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read the roster"),
        (b"student\n\xff\xfe\n", "not UTF-8"),
        (b"name,email\nann,a@x\n", "'student' column"),
        (b"student\nann\x00\n", "NUL"),
        (b"student\n\x1b[2J\n", "roster line 2"),
    ],
    ids=["missing", "not-utf8", "no-student-column", "nul-bytes", "unprintable-name"],
)
def test_bad_rosters_are_one_error_line_exit_2(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, content: bytes | None, needle: str
) -> None:
    roster = tmp_path / "roster.csv"
    if content is not None:
        roster.write_bytes(content)
    code, out, err = run(capsys, "tokens", "import", str(roster), "--course", "c1", "--db", db)
    assert code == 2 and out == ""
    assert needle in one_error_line(err)


def test_list_never_shows_a_token_and_revoke_changes_state(
    capsys: pytest.CaptureFixture[str], db: str
) -> None:
    made = []
    for argv in (
        ["--student", "ann", "--course", "c1"],
        ["--student", "ann", "--course", "c2"],
        ["--instructor", "prof", "--course", "c1", "--expires", "2999-01-31"],
    ):
        code, out, err = run(capsys, "tokens", "create", *argv, "--db", db)
        assert code == 0, err
        made.append(out.strip())
    code, text, _ = run(capsys, "tokens", "list", "--db", db)
    listing = json.dumps(tokens_list(capsys, db)) + text
    assert code == 0 and not any(token in listing for token in made)
    assert "gt_" not in listing and "hash" not in listing
    rows = tokens_list(capsys, db, "--course", "c1")
    assert [(r["role"], r["name"], r["state"]) for r in rows] == [
        ("student", "ann", "active"),
        ("instructor", "prof", "active"),
    ]
    assert rows[1]["expires"] == "2999-01-31T00:00:00+00:00"

    code, out, err = run(
        capsys, "tokens", "revoke", "--student", "ann", "--course", "c2", "--db", db
    )
    assert (code, out.strip()) == (0, "revoked 1 token(s)"), err
    code, out, _ = run(capsys, "tokens", "revoke", str(rows[1]["id"]), "--db", db)
    assert (code, out.strip()) == (0, "revoked 1 token(s)")
    states = {(r["name"], r["course"]): r["state"] for r in tokens_list(capsys, db)}
    assert states == {("ann", "c1"): "active", ("ann", "c2"): "revoked", ("prof", "c1"): "revoked"}
    code, out, _ = run(capsys, "tokens", "revoke", str(rows[1]["id"]), "--db", db)
    assert (code, out.strip()) == (0, "revoked 0 token(s)")  # already revoked: nothing new


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["create", "--instructor", "prof"], "--instructor needs --course"),
        (["create", "--student", "a", "--instructor", "b"], "not allowed with"),
        (["create", "--student", "a", "--expires", "soon"], "ISO date"),
        (["create", "--student", "a", "--expires", "2001-01-01"], "in the past"),
        (["revoke"], "name the tokens to revoke"),
        (["revoke", "3", "--student", "a"], "not both"),
        (["revoke", "--course", "c1"], "--course narrows --student"),
        (["revoke", "x"], "invalid int value"),
    ],
    ids=[
        "instructor-no-course",
        "student-and-instructor",
        "expires-not-a-date",
        "expires-past",
        "revoke-nothing",
        "revoke-ids-and-student",
        "revoke-course-alone",
        "revoke-not-an-id",
    ],
)
def test_token_mistakes_are_one_error_line_exit_2(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, "tokens", *argv, "--db", db)
    assert code == 2 and out == ""
    assert needle in one_error_line(err)


def test_expiry_reads_dates_as_utc_midnight_and_datetimes_as_given() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert expiry("2027-06-30", now) == datetime(2027, 6, 30, tzinfo=UTC).timestamp()
    assert expiry("2027-06-30T12:30", now) == datetime(2027, 6, 30, 12, 30, tzinfo=UTC).timestamp()
    assert (
        expiry("2027-06-30T12:30+02:00", now)
        == datetime(2027, 6, 30, 10, 30, tzinfo=UTC).timestamp()
    )
    assert expiry(None, now) is None
    with pytest.raises(BadInput, match="in the past"):
        expiry("2027-01-01", now)


# -- what the instructor commands print -----------------------------------------------------------


def version(number: int, change: str, by: str, score: float, reason: str | None = None) -> dict:
    at = datetime(2027, 3, number, 9, tzinfo=UTC).timestamp()
    report = {"score": score, "max_score": 4.0}
    return {
        "version": number,
        "change": change,
        "by": by,
        "reason": reason,
        "at": at,
        "report": report,
    }


def test_history_lines_name_who_when_why_and_the_score_change() -> None:
    lines = history_lines(
        [
            version(1, "graded", "grader", 3.0),
            version(2, "override", "alice", 4.0, "partial credit:\nsee forum"),
            version(3, "regrade", "alice", 4.0),
            version(4, "regrade", "bob", 2.0),
        ]
    )
    assert lines == [
        "v1 graded by grader at 2027-03-01T09:00:00+00:00",
        "v2 override by alice at 2027-03-02T09:00:00+00:00: partial credit: see forum"
        " (score 3 -> 4)",
        "v3 regrade by alice at 2027-03-03T09:00:00+00:00",
        "v4 regrade by bob at 2027-03-04T09:00:00+00:00 (score 4 -> 2)",
    ]


def test_stats_from_json_renders_as_the_dataclasses_do() -> None:
    items = [ItemInfo("q1", "mcq", ("A", "B", "C"), "B"), ItemInfo("q2", "code")]
    attempts = [
        Attempt(f"s{i}", "q1", 1, 1.0 if i % 2 else 0.0, bool(i % 2), "B" if i % 2 else "A")
        for i in range(6)
    ] + [Attempt("s1", "q2", 1, 0.5, False, failed_checks=("shape",), checks=("shape", "dtype"))]
    stats = item_stats(attempts, items)
    body = json.loads(json.dumps(stats.to_json()))
    body["items"][0]["added_by_a_newer_server"] = 1  # a key this grader does not know
    again = stats_from_json(body)
    assert again == stats
    assert stats_text.render(again) == stats_text.render(stats)


def test_stats_in_another_shape_is_a_server_failure() -> None:
    with pytest.raises(ServerUnavailable, match="not in the shape"):
        stats_from_json({"students": 1, "items": [{"id": "q1"}], "flagged": []})
    with pytest.raises(ServerUnavailable, match="not in the shape"):
        stats_from_json(["not", "an", "object"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["stats", "--db", "sqlite://"], "--db needs --course"),
        (["stats", "--course", "c1", "--server", "http://x", "--token", "t"], "goes with --db"),
        (["stats", "--json", "--html", "x.html"], "not allowed with"),
        (["course", "regrade", "--server", "http://x", "--token", "t"], "one of the arguments"),
        (
            ["course", "override", "sub_1", "--score", "nan", "--reason", "r"],
            "invalid number value",
        ),
        (["course", "submissions", "--verdict", "GOOD"], "invalid choice"),
        (["course", "show", "sub_1"], "no server"),
    ],
    ids=[
        "db-without-course",
        "course-without-db",
        "json-and-html",
        "regrade-names-nothing",
        "score-nan",
        "unknown-verdict",
        "no-server",
    ],
)
def test_instructor_mistakes_are_one_error_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert needle in one_error_line(err)


def test_no_server_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    server = ["--server", "http://127.0.0.1:9", "--token", "t"]
    for argv in (["course", "submissions"], ["history"], ["result", "sub_1"], ["stats"]):
        code, _, err = run(capsys, *argv, *server)
        assert code == 3, argv
        assert "cannot reach the server" in one_error_line(err)


def test_a_submission_without_a_report_is_exit_3_after_its_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    view = {"id": "sub_1", "question": "q1", "status": "queued", "report": None}
    with pytest.raises(ServerUnavailable, match="no report for sub_1 yet: it is queued") as caught:
        show_view(view, as_json=True)
    assert caught.value.exit_code == 3
    assert json.loads(capsys.readouterr().out) == view


ESC = "\x1b]0;owned\x07\x1b[2J"


def test_a_report_never_drives_the_terminal_and_shows_an_override() -> None:
    """A student's exception message or prediction (their text) reaches the report; printed, no
    character of it acts on the terminal. An override shows with its reason."""
    report = Report.model_validate(
        {
            "question": "q",
            "status": "failed",
            "verdict": "RUNTIME_ERROR",
            "score": 0.5,
            "max_score": 1.0,
            "duration_s": 0.1,
            "backend": "process",
            "message": f"Your code raised ValueError: {ESC}",
            "checks": [
                {
                    "name": "prediction",
                    "passed": False,
                    "score": 0,
                    "max_score": 1,
                    "message": f"You predicted {ESC}\r",
                },
            ],
            "override": {"score": 0.5, "graded_score": 0.0, "reason": "half right"},
        }
    )
    text = report_text(report)
    assert not any(c != "\n" and not c.isprintable() for c in text), repr(text)
    assert "?]0;owned??[2J" in text
    assert "score set by your instructor (graded 0): half right" in text


def test_a_roster_whose_tokens_cannot_be_written_stores_none(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nann\nbob\n")

    class Full(io.StringIO):
        def flush(self) -> None:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("sys.stdout", Full())
    code = main(["tokens", "import", str(roster), "--course", "c1", "--db", db])
    monkeypatch.undo()
    assert code == 3
    assert tokens_list(capsys, db) == []  # nothing stored that nobody saw
    out = tmp_path / "t.csv"
    code, _, err = run(
        capsys, "tokens", "import", str(roster), "--course", "c1", "--db", db, "--out", str(out)
    )
    assert code == 0 and "created 2 token(s), kept 0 existing" in err


def test_stats_numbers_from_a_server_cannot_write_markup_into_the_page() -> None:
    stats = item_stats([Attempt("s1", "q1", 1, 1.0, True)], [ItemInfo("q1", "numeric")])
    body = json.loads(json.dumps(stats.to_json()))
    body["items"][0]["attempts"] = "<script>alert(1)</script>"
    body["items"][0]["students"] = "<img src=x onerror=alert(1)>"
    page = stats_html.render(stats_from_json(body), "course")
    assert "<script" not in page and "<img" not in page
