"""A course of 200 students and 20 items, seeded through a real course server, then the
instructor's tools on it, timed: the gradebook, a regrade of one item after its fix, item
statistics as a page.

Starts `grader serve` (SQLite, process sandbox, in-process workers) on a copy of the bank with a
generated assignment, imports a roster with `grader tokens import`, sends every simulated answer
through `POST /v1/submissions` (grader/ops/seed.py: ability-based answers, one item with a wrong
key), waits for the reports, then runs, each through the real CLI against the server:

    grader course gradebook --assignment A --format csv     (timed over --repeat runs)
    grader course regrade --question Q                       after "fixing" Q's key in the bank
                                                             (restart), until every regrade is
                                                             written; then again: nothing queued
    grader stats --assignment A --html FILE                  (timed over --repeat runs)

and prints the figures (median and p95 of wall time per command, the regrade's queued/unchanged
counts and how long until the last new version was written). The CLI's wall time includes its own
Python start-up, which `--repeat` runs of `grader --help` measure alongside as the floor.

Usage: `python scripts/seed_course.py [--students 200] [--items 20] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.bank import Bank, load_bank
from grader.cli.client import fetch_variant
from grader.models import McqItem
from grader.ops.loopback import ServerProcess, run_grader, wait_until
from grader.ops.seed import Plan, SeedOf, answers, assignment_yaml, send_all
from grader.settings import GraderSettings

COURSE = "pytorch-101"
ASSIGNMENT = "seeded-course"
#: 2 code items, 5 numeric, 13 multiple choice: 20; the first MCQ is the one with a wrong key.
CODE = ["replace-head-5-classes", "top1-from-logits"]


def pick_items(count: int, bank_items: dict[str, str]) -> list[str]:
    """`count` items: the code ones above, then numeric, then MCQ, in id order."""
    mcq = sorted(i for i, kind in bank_items.items() if kind == "mcq")
    numeric = sorted(i for i, kind in bank_items.items() if kind == "numeric")
    chosen = mcq[:13] + numeric[:5] + CODE
    return chosen[:count] if count < len(chosen) else chosen


def timed(argv: list[str], repeat: int) -> tuple[list[float], subprocess.CompletedProcess[str]]:
    walls, done = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        done = run_grader(*argv)
        walls.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"grader {' '.join(argv[:3])} failed: {done.stderr.strip()}")
    assert done is not None
    return walls, done


def figure(name: str, walls: list[float]) -> str:
    ordered = sorted(walls)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return (
        f"{name:<34} median {statistics.median(walls):6.2f} s   p95 {p95:6.2f} s   n={len(walls)}"
    )


def wait_graded(server: ServerProcess, token: str, timeout_s: float) -> bool:
    """Until no submission of the course is queued or running."""

    def settled() -> bool:
        with server.client(token) as http:
            for status in ("queued", "running"):
                page = http.get("/v1/course/submissions", params={"status": status, "limit": 1})
                if page.json()["items"]:
                    return False
        return True

    return wait_until(settled, timeout_s, poll_s=0.5)


def run(args: argparse.Namespace, folder: Path) -> int:
    settings = GraderSettings()
    bank_dir = folder / "questions"
    shutil.copytree(settings.bank, bank_dir)
    bank = load_bank([bank_dir])
    plan = Plan(
        course=COURSE,
        assignment=ASSIGNMENT,
        items=pick_items(args.items, {i: item.kind for i, item in bank.items.items()}),
        students=args.students,
    )
    plan = Plan(**{**plan.__dict__, "misleading": plan.items[0]})
    (folder / "assignments").mkdir()
    (folder / "assignments" / f"{ASSIGNMENT}.yaml").write_text(assignment_yaml(plan, bank))
    env = {
        "GRADER_BANK": str(bank_dir),
        "GRADER_ASSIGNMENTS": str(folder / "assignments"),
        "GRADER_STUDENT_BURST": "1000000",
        "GRADER_STUDENT_INFLIGHT": "1000000",
        "GRADER_WORKERS": str(args.workers),
    }
    server = ServerProcess(folder, env=env).start()
    try:
        return _measure(args, folder, server, plan, bank, settings)
    finally:
        server.stop()


def _seeds_from(server: ServerProcess, tokens: dict[str, str], plan: Plan) -> SeedOf:
    """Each student's seed of a varying item, as the server draws it for their next attempt."""

    def seed_of(student: str, item_id: str) -> int | None:
        view = fetch_variant(server.url, tokens[student], item_id, assignment=plan.assignment)
        return view.get("seed")

    return seed_of


def _measure(
    args: argparse.Namespace,
    folder: Path,
    server: ServerProcess,
    plan: Plan,
    bank: Bank,
    settings: GraderSettings,
) -> int:
    roster = folder / "roster.csv"
    roster.write_text("student\n" + "\n".join(plan.student_ids()) + "\n")
    out = folder / "tokens.csv"
    imported = server.grader("tokens", "import", str(roster), "--course", COURSE, "--out", str(out))
    if imported.returncode != 0:
        raise SystemExit(f"tokens import failed: {imported.stderr}")
    tokens = {row["student"]: row["token"] for row in csv.DictReader(out.read_text().splitlines())}
    made = server.grader("tokens", "create", "--instructor", "ada", "--course", COURSE)
    teacher = made.stdout.strip()
    drawn = answers(plan, bank, settings.solutions, _seeds_from(server, tokens, plan))
    start = time.perf_counter()
    sent = send_all(server.url, tokens, drawn, plan.assignment, args.threads)
    if sent.refused:
        raise SystemExit(f"{len(sent.refused)} refused, e.g. {sent.refused[0]}")
    if not wait_graded(server, teacher, 1800):
        raise SystemExit("not every submission was graded in 30 min")
    seeded = time.perf_counter() - start
    print(
        f"seeded: {args.students} students, {len(plan.items)} items, {len(sent.ids)} "
        f"submissions, sent and graded in {seeded:.1f} s ({len(sent.ids) / seeded:.0f}/s)"
    )
    remote = ["--server", server.url, "--token", teacher]
    floor, _ = timed(["--help"], args.repeat)
    print(figure("grader --help (start-up floor)", floor))
    walls, book = timed(
        ["course", "gradebook", "--assignment", ASSIGNMENT, "--format", "csv", *remote], args.repeat
    )
    print(figure("grader course gradebook (csv)", walls))
    print(f"  {len(book.stdout.splitlines()) - 1} rows, {book.stdout.count(chr(10))} lines")
    html = folder / "stats.html"
    walls, _ = timed(
        ["stats", "--assignment", ASSIGNMENT, "--html", str(html), *remote], args.repeat
    )
    print(figure("grader stats --html", walls))
    print(f"  page {html.stat().st_size / 1024:.0f} KiB at {html}")
    text = run_grader("stats", "--assignment", ASSIGNMENT, *remote).stdout
    print("\n".join("  " + line for line in text.splitlines() if line.startswith("FLAG")))
    _regrade(server, plan, folder, remote, teacher)
    return 0


def _regrade(
    server: ServerProcess, plan: Plan, folder: Path, remote: list[str], teacher: str
) -> None:
    """Fix the misleading item's key in the bank, restart, regrade it, twice."""
    item = plan.misleading
    assert item is not None
    path = next((folder / "questions").rglob(f"{item}.yaml"))
    mcq = load_bank([folder / "questions"]).items[item]
    assert isinstance(mcq, McqItem)
    wrong = [letter for letter in mcq.letters if letter != mcq.answer]
    path.write_text(path.read_text().replace(f"answer: {mcq.answer}", f"answer: {wrong[0]}"))
    server.stop()
    server.start()
    start = time.perf_counter()
    done = run_grader("course", "regrade", "--question", item, *remote)
    asked = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"regrade failed: {done.stderr}")
    wait_graded(server, teacher, 600)
    total = time.perf_counter() - start
    print(f"grader course regrade --question {item}: {done.stdout.strip()}")
    print(f"  request {asked:.2f} s; every new version written {total:.2f} s after it")
    again = run_grader("course", "regrade", "--question", item, *remote)
    print(f"  again: {again.stdout.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the server's folder here")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep)
    with tempfile.TemporaryDirectory() as folder:
        return run(args, Path(folder))


if __name__ == "__main__":
    sys.exit(main())
