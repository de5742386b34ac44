"""A seeded course on a real `grader serve`: students answer through the API (grader/ops/seed.py,
the simulation `scripts/seed_course.py` runs at 200 students), then the instructor's gradebook,
statistics and a regrade after the key's fix are checked against what the simulation sent."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import httpx
import pytest

from grader.bank import Bank, load_bank
from grader.models import McqItem, NumericItem
from grader.ops.loopback import ServerProcess, run_grader, wait_until
from grader.ops.seed import Answer, Plan, answers, assignment_yaml, send_all
from grader.settings import GraderSettings
from tests.service.conftest import MakeServer

ITEMS = [
    "resnet18-output-shape",
    "finetuning-purpose",
    "freeze-with-requires-grad",
    "pretrained-saves-time",
    "precision-tp85-fp15-fn10",
    "recall-tp85-fp15-fn10",
]
PLAN = Plan(
    course="seeded",
    assignment="seeded-quiz",
    items=ITEMS,
    students=24,
    misleading=ITEMS[0],
)


def correct(bank: Bank, answer: Answer) -> bool:
    item = bank.get(answer.item)  # a former id names a fixed variant
    if isinstance(item, McqItem):
        return answer.choice == item.answer
    assert isinstance(item, NumericItem) and answer.choice is not None
    return float(answer.choice) == item.answer


def expected_totals(bank: Bank, drawn: dict[str, list[Answer]]) -> dict[str, float]:
    """Best counts, every item is worth its points: a student's total is the points of the items
    they got right at some attempt."""
    return {
        student: float(sum(bank.get(i).points for i in {a.item for a in mine if correct(bank, a)}))
        for student, mine in drawn.items()
    }


def settled(server: ServerProcess, teacher: str) -> bool:
    with server.client(teacher) as http:
        return not any(
            http.get("/v1/course/submissions", params={"status": s, "limit": 1}).json()["items"]
            for s in ("queued", "running")
        )


def teach(server: ServerProcess, teacher: str, *argv: str) -> str:
    done = run_grader(*argv, "--server", server.url, "--token", teacher)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def seeded(make_server: MakeServer, tmp_path: Path) -> tuple[ServerProcess, str, Path]:
    bank_dir = tmp_path / "questions"
    shutil.copytree(GraderSettings().bank, bank_dir)
    (tmp_path / "assignments").mkdir()
    document = assignment_yaml(PLAN, load_bank([bank_dir]))
    (tmp_path / "assignments" / f"{PLAN.assignment}.yaml").write_text(document)
    env = {
        "GRADER_BANK": str(bank_dir),
        "GRADER_ASSIGNMENTS": str(tmp_path / "assignments"),
        "GRADER_STUDENT_BURST": "1000",
        "GRADER_STUDENT_INFLIGHT": "1000",
    }
    server = make_server(env=env)
    roster, out = tmp_path / "roster.csv", tmp_path / "tokens.csv"
    roster.write_text("student\n" + "\n".join(PLAN.student_ids()) + "\n")
    assert (
        server.grader(
            "tokens", "import", str(roster), "--course", PLAN.course, "--out", str(out)
        ).returncode
        == 0
    )
    made = server.grader("tokens", "create", "--instructor", "ada", "--course", PLAN.course)
    return server, made.stdout.strip(), bank_dir


def test_gradebook_stats_and_a_regrade_of_a_seeded_course(seeded, tmp_path):
    server, teacher, bank_dir = seeded
    bank = load_bank([bank_dir])
    rows = csv.DictReader((tmp_path / "tokens.csv").read_text().splitlines())
    tokens = {row["student"]: row["token"] for row in rows}
    drawn = answers(PLAN, bank, GraderSettings().solutions)
    sent = send_all(server.url, tokens, drawn, PLAN.assignment, threads=4)
    assert not sent.refused and len(sent.ids) == sum(len(mine) for mine in drawn.values())
    assert wait_until(lambda: settled(server, teacher), timeout_s=120)

    book = json.loads(teach(server, teacher, "course", "gradebook", "--format", "json"))
    totals = {row["student"]: row["total"] for row in book["rows"]}
    assert totals == expected_totals(bank, drawn)

    stats = json.loads(teach(server, teacher, "stats", "--assignment", PLAN.assignment, "--json"))
    flagged = {(flag["item"], flag["code"]) for flag in stats["flagged"]}
    assert (PLAN.misleading, "negative-discrimination") in flagged
    assert stats["students"] == PLAN.students

    # The author fixes the key (the option strong students chose), restarts, regrades the item.
    mcq = bank.items[PLAN.misleading]
    assert isinstance(mcq, McqItem)
    fixed = next(letter for letter in mcq.letters if letter != mcq.answer)
    path = next(bank_dir.rglob(f"{PLAN.misleading}.yaml"))
    path.write_text(path.read_text().replace(f"answer: {mcq.answer}", f"answer: {fixed}"))
    server.stop()
    server.start()
    sent_to_item = sum(1 for mine in drawn.values() for a in mine if a.item == PLAN.misleading)
    first = json.loads(teach(server, teacher, "course", "regrade", "--question", mcq.id, "--json"))
    assert (first["queued"], first["unchanged"]) == (sent_to_item, 0)
    assert wait_until(lambda: settled(server, teacher), timeout_s=120)
    again = json.loads(teach(server, teacher, "course", "regrade", "--question", mcq.id, "--json"))
    assert (again["queued"], again["unchanged"]) == (0, sent_to_item)

    fixed_bank = load_bank([bank_dir])
    book = json.loads(teach(server, teacher, "course", "gradebook", "--format", "json"))
    assert {row["student"]: row["total"] for row in book["rows"]} == expected_totals(
        fixed_bank, drawn
    )
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {teacher}"}) as http:
        some = http.get(f"/v1/course/submissions/{first['submissions'][0]}").json()
    assert [v["change"] for v in some["history"]] == ["graded", "regrade"]


def test_the_simulation_answers_a_varying_item_on_each_students_variant() -> None:
    from grader.grading.answers import grade_answer

    bank = load_bank()
    plan = Plan(course="c", assignment="a", items=["confusion-precision"], students=40, retry=0)
    seeds = {student: index * 7 + 1 for index, student in enumerate(plan.student_ids())}
    drawn = answers(plan, bank, GraderSettings().solutions, lambda s, i: seeds[s])
    passed = 0
    for student, sent in drawn.items():
        (answer,) = sent
        theirs = bank.variant(answer.item, seeds[student])
        assert isinstance(theirs, NumericItem) and answer.choice is not None
        passed += grade_answer(theirs, answer.choice).passed
    assert 0 < passed < len(drawn)  # right answers are right for the student who sent them
    with pytest.raises(ValueError, match="varies"):
        answers(plan, bank, GraderSettings().solutions)
