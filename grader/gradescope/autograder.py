"""Gradescope's side of the grader: `gradescope/run_autograder` calls `main()`.

Gradescope's contract: the student's files are in /autograder/submission/, the autograder's own
files in /autograder/source/, and /autograder/results/results.json is the grade. $GRADER_GS_SOURCE,
$GRADER_GS_SUBMISSION and $GRADER_GS_RESULTS move those (tests use a temporary folder).

Which question: `--question`, else $GRADER_QUESTION, else the first line of `question` in the
source folder. A code item grades the submission's one `.py` or `.ipynb` file (or `--file NAME`);
any other kind reads the answer (a letter, a number, a prediction) from `answer.txt`.

results.json is always written, so a student never sees Gradescope's bare "autograder failed": a
submission that cannot be read scores 0 with the reason and how to fix it (exit 2); when the
grader itself fails, the output says it is not a mark and to ask for a re-run (exit 3).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.bank import load_bank
from grader.errors import BadInput, BadSubmission, GraderError
from grader.gradescope.results import write_results
from grader.grading import Answer, Grader
from grader.grading.submission import read_submission
from grader.models import CodeItem, Item, Report
from grader.settings import with_flags
from sandbox.backends import BACKENDS
from sandbox.errors import SandboxError

ANSWER_FILE = "answer.txt"


def _path(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or default)


def question_id(given: str | None, source: Path) -> str:
    """The item this assignment grades, from the flag, the environment or the source folder."""
    if given or os.environ.get("GRADER_QUESTION"):
        return str(given or os.environ["GRADER_QUESTION"])
    try:
        return (source / "question").read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError) as exc:
        raise GraderError(
            f"no question id: put it in {source / 'question'}, or set GRADER_QUESTION"
        ) from exc


def submitted_file(folder: Path, name: str | None) -> Path:
    """The one .py or .ipynb file a student handed in (or the one named)."""
    if name:
        return folder / name
    found = sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".ipynb") and p.is_file())
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise BadSubmission(f"submit exactly one .py or .ipynb file (found: {names})")
    return found[0]


def grade(args: argparse.Namespace, submission: Path, source: Path) -> Report:
    settings = with_flags(args.bank, args.backend)
    bank = load_bank([settings.bank])
    item = bank.get(question_id(args.question, source))
    answer = read_answer(item, submission, args.file)
    with Grader(bank, settings=settings) as grader:
        return grader.grade(item, answer)


def read_answer(item: Item, submission: Path, name: str | None) -> Answer:
    """A code item's one program, or the text of `answer.txt` for every other kind."""
    if isinstance(item, CodeItem):
        return read_submission(submitted_file(submission, name))
    try:
        return (submission / ANSWER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadSubmission(f"put your answer in {ANSWER_FILE} (a letter, a number)") from exc


def failure_results(message: str, results: Path) -> None:
    """results.json for a submission that got no report: no tests, the reason as the output."""
    payload = {"score": 0.0, "output": message, "tests": [], "extra_data": {"error": message}}
    results.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def grader_fault(why: str, results: Path) -> int:
    note = "This is not your mark: ask your instructor to re-run the autograder."
    failure_results(f"The grader could not grade this submission ({why}). {note}", results)
    print(f"error: {why}", file=sys.stderr)
    return 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--question", help="the item id (default: $GRADER_QUESTION, `question`)")
    parser.add_argument("--file", help="the submitted file to grade, for code items")
    parser.add_argument("--bank", type=Path, help="question folder (default: ./questions)")
    parser.add_argument("--backend", choices=BACKENDS, help="sandbox (default: $GRADER_BACKEND)")
    args = parser.parse_args(argv)
    source = _path("GRADER_GS_SOURCE", "/autograder/source")
    submission = _path("GRADER_GS_SUBMISSION", "/autograder/submission")
    results = _path("GRADER_GS_RESULTS", "/autograder/results/results.json")
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        report = grade(args, submission, source)
    except BadInput as exc:
        failure_results(f"Your submission could not be graded: {exc}", results)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (GraderError, SandboxError) as exc:
        return grader_fault(str(exc), results)
    except Exception as exc:  # noqa: BLE001 - a bug of ours: results.json all the same, no trace
        return grader_fault(f"internal error: {type(exc).__name__}: {exc}", results)
    write_results(report, results)
    return 3 if report.status.value == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
