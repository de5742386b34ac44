"""How results reach people and scripts: plain text off a terminal and with NO_COLOR, colour,
Markdown and wrapping on one, what a submission wrote never read as markup or escape codes, a
spinner only on a terminal's stderr, and a reader that goes away ends the command quietly."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.cli.output import emit, progress
from grader.cli.render import item_doc, report_doc, report_text
from grader.cli.views import ItemView
from grader.models import CheckResult, Report
from tests.grader.items import small_bank

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HOSTILE = "[red]x[/red] [link=https://evil.example]y[/link] :smile: \x1b[2J\x1b]0;owned\x07"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "60")
    for name in ("NO_COLOR", "COLORTERM", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def report(message: str = HOSTILE, passed: bool = False) -> Report:
    check = CheckResult(name="simple", passed=passed, score=0, max_score=1, message=message)
    return Report(
        question="mean-of",
        status="passed" if passed else "failed",
        verdict="PASSED" if passed else "WRONG_ANSWER",
        score=0,
        max_score=1,
        checks=[check],
        duration_s=0.1,
        backend="process",
        output=HOSTILE,
        explanation="Use **sum** and `len`.",
    )


def on_terminal(doc: object) -> str:
    stream = Terminal()
    emit(doc, stream)  # type: ignore[arg-type]
    return stream.getvalue()


def test_a_terminal_gets_colour_and_markdown() -> None:
    shown = on_terminal(report_doc(report(passed=True)))
    assert "\x1b[1;32mPASSED" in shown and "\x1b[1;32mPASS\x1b[0m" in shown
    assert "**" not in shown and "sum" in ANSI.sub("", shown)  # the explanation's Markdown
    failed = on_terminal(report_doc(report()))
    assert "\x1b[1;31mWRONG_ANSWER" in failed and "\x1b[1;31mFAIL" in failed


def test_what_a_submission_wrote_is_never_markup_nor_escape_codes() -> None:
    shown = on_terminal(report_doc(report()))
    text = ANSI.sub("", shown)
    for literal in ("[red]x[/red]", "[link=https://evil.example]y[/link]", ":smile:", "?[2J"):
        assert text.count(literal) == 2  # the check's message and the output, both literal
    assert "\x1b]" not in shown and "\x1b[2J" not in shown and "\U0001f604" not in shown


def test_lines_are_wrapped_to_the_terminal() -> None:
    shown = ANSI.sub("", on_terminal(report_doc(report("a long message " * 20))))
    assert max(len(line.rstrip()) for line in shown.splitlines()) <= 60


@pytest.mark.parametrize("no_color", [True, False], ids=["no-color", "not-a-terminal"])
def test_elsewhere_it_is_the_plain_text(no_color: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal() if no_color else io.StringIO()
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    emit(report_doc(report()), stream)
    assert stream.getvalue() == report_text(report()) + "\n"
    assert "\x1b" not in stream.getvalue() and "[red]x[/red]" in stream.getvalue()


def test_a_prompt_is_markdown_on_a_terminal_and_as_written_elsewhere() -> None:
    view = {
        "id": "p",
        "kind": "numeric",
        "title": "T",
        "prompt": "A **bold** claim about `x`.",
        "tags": [],
        "difficulty": "easy",
        "points": 1.0,
    }
    doc = item_doc(ItemView(view))
    shown = on_terminal(doc)
    assert "**" not in shown and "\x1b[1mbold\x1b[0m" in shown
    written = io.StringIO()
    emit(doc, written)
    assert "\nA **bold** claim about `x`.\n" in written.getvalue()


def test_the_spinner_shows_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        with progress("grading mean-of"):
            time.sleep(0.3)
        assert ("grading mean-of" in stream.getvalue()) is shown
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with progress("grading mean-of", enabled=False):  # --json: never
        pass
    assert quiet.getvalue() == ""


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    return small_bank(tmp_path)


def closed_pipe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`grader ARGV` writing into a pipe nobody reads any more (`| head -0`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "grader.cli", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["list"], 0),
        (["list", "--json"], 0),
        (["show", "resnet-head"], 0),
        (["--help"], 0),
        (["answer", "resnet-head", "C"], 1),  # graded and not passed, printed or not
        (["schema"], 141),  # stopped mid-output: it may not have finished
    ],
    ids=["list", "list-json", "show", "help", "answer", "other"],
)
def test_a_closed_pipe_ends_quietly(bank: Path, tmp_path: Path, argv: list[str], code: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env |= {"GRADER_BANK": str(bank), "GRADER_CACHE": str(tmp_path / "cache")}
    for _ in range(2):  # the bank loaded, then from the cache
        proc = closed_pipe(argv, env)
        assert (proc.returncode, proc.stderr) == (code, "")


def test_head_reads_the_first_line_and_the_command_exits_0(bank: Path, tmp_path: Path) -> None:
    grader = f"{sys.executable} -m grader.cli --bank {bank}"
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {grader} list | head -1"],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        | {"GRADER_CACHE": str(tmp_path / "cache")},
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("precision-85") and proc.stdout.count("\n") == 1
