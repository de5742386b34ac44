"""A simulated course, seeded through a real course server's API: students with an ability each,
items with a difficulty each, answers drawn from an item-response model, one item whose key is
wrong, so the instructor's tools have something true to find.

For `scripts/seed_course.py` (the figures of a 200-student course) and the live instructor tests.
The simulation reads the bank's keys on the host, as an instructor's script may; what it sends is
what students would: letters, numbers and the item's own reference or wrong solutions.

A student's chance of answering item j right is 1 / (1 + exp(-1.7 (ability - difficulty_j))).
On the item in `misleading`, the stronger a student, the likelier they choose the option the key
calls wrong (as when the key itself is wrong): its discrimination comes out negative. A wrong MCQ
answer picks one distractor, never the last one, so the last is a distractor nobody picks. A
student who got an item wrong tries once more with probability `retry`.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from grader.bank import Bank
from grader.bank.solutions import solution_source
from grader.models import CodeItem, Item, McqItem, NumericItem

SLOPE = 1.7


@dataclass(frozen=True)
class Plan:
    """Who answers what: `students` ids, `items` ids, the assignment they form."""

    course: str
    assignment: str
    items: list[str]
    students: int
    seed: int = 7
    retry: float = 0.5
    misleading: str | None = None

    def student_ids(self) -> list[str]:
        return [f"s{index:04d}" for index in range(self.students)]


@dataclass(frozen=True)
class Answer:
    student: str
    item: str
    choice: str | None = None
    file: tuple[str, bytes] | None = None


def assignment_yaml(plan: Plan, bank: Bank) -> str:
    """The assignment file (JSON, which is YAML): open since yesterday, due in a month, 3
    attempts, best counts, keys shown at once."""
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "schema_version": 1,
        "id": plan.assignment,
        "title": f"Seeded: {len(plan.items)} items",
        "course": plan.course,
        "opens": (now - timedelta(days=1)).isoformat(),
        "due": (now + timedelta(days=30)).isoformat(),
        "attempts": 3,
        "counts": "best",
        "items": [{"id": i, "points": bank.get(i).points} for i in plan.items],
        "reveal": {"mcq": {"key": "always"}, "numeric": {"key": "always"}},
    }
    return json.dumps(body, indent=2)


#: The seed of a student's variant of an item (`GET /v1/items/{id}/variant`), asked only for
#: items that vary; None for one that does not.
SeedOf = Callable[[str, str], int | None]


def answers(
    plan: Plan, bank: Bank, solutions: Path, seed_of: SeedOf | None = None
) -> dict[str, list[Answer]]:
    """Each student's answers, in the order they send them (first attempts, then retries). An
    item that varies is answered on the student's own variant (`seed_of`, as the server draws
    it), so a right answer is right for that student."""
    rng = random.Random(plan.seed)
    difficulty = {item: rng.uniform(-2.0, 2.0) for item in plan.items}
    drawn: dict[str, list[Answer]] = {}
    for student in plan.student_ids():
        ability = rng.gauss(0.0, 1.0)
        mine: list[Answer] = []
        for item_id in plan.items:
            item = _their_item(bank, item_id, student, seed_of)
            for attempt in range(2):
                right = rng.random() < _chance(ability - difficulty[item_id] + attempt * 0.5)
                misled = item_id == plan.misleading and rng.random() < _chance(ability)
                mine.append(
                    _answer(student, item_id, item, right and not misled, misled, rng, solutions)
                )
                if (right and not misled) or rng.random() >= plan.retry:
                    break
        drawn[student] = mine
    return drawn


def _their_item(bank: Bank, item_id: str, student: str, seed_of: SeedOf | None) -> Item:
    """The item as `student` is asked it: an alias names its item (a fixed variant: its own
    key); a varying item is the student's variant."""
    item = bank.get(item_id)
    if not item.varies:
        return item
    if seed_of is None:
        raise ValueError(f"{item_id} varies per student: give `seed_of` to answer it")
    return bank.variant(item_id, seed_of(student, item_id))


def _chance(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-SLOPE * logit))


def _answer(
    student: str,
    item_id: str,
    item: Item,
    right: bool,
    misled: bool,
    rng: random.Random,
    solutions: Path,
) -> Answer:
    """An answer sent under `item_id`, the id the plan names (a fixed alias is graded as its own
    variant, so the answer goes to that id, not to the item's)."""
    if isinstance(item, McqItem):
        wrong = [letter for letter in item.letters if letter != item.answer]
        if misled:
            return Answer(student, item_id, choice=wrong[0])
        pick = item.answer if right else rng.choice(wrong[:-1] or wrong)
        return Answer(student, item_id, choice=pick)
    if isinstance(item, NumericItem):
        key = float(item.answer or 0.0)
        return Answer(student, item_id, choice=repr(key if right else key * 1.5 + 1.0))
    if isinstance(item, CodeItem):
        folder = solutions / item.id
        files = [folder / "reference.py"] if right else sorted(folder.glob("wrong_*.py"))
        path = rng.choice(files)
        source = solution_source(item, path).encode()
        return Answer(student, item.id, file=(f"{item.id}.py", source))
    raise ValueError(f"{item.id}: the simulation answers mcq, numeric and code items only")


@dataclass
class Sent:
    ids: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def send_all(
    url: str, tokens: dict[str, str], drawn: dict[str, list[Answer]], assignment: str, threads: int
) -> Sent:
    """Every student's answers through `POST /v1/submissions`, students in parallel, each
    student's in order."""
    sent = Sent()

    def one_student(student: str) -> Iterator[tuple[str, httpx.Response]]:
        headers = {"Authorization": f"Bearer {tokens[student]}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for answer in drawn[student]:
                data = {"question": answer.item, "assignment": assignment}
                data |= {"choice": answer.choice} if answer.choice is not None else {}
                files = {"file": answer.file} if answer.file is not None else None
                yield answer.item, http.post("/v1/submissions", data=data, files=files)

    with ThreadPoolExecutor(threads) as pool:
        for results in pool.map(lambda s: list(one_student(s)), sorted(drawn)):
            for item, response in results:
                if response.status_code == 202:
                    sent.ids.append(response.json()["id"])
                else:
                    sent.refused.append(f"{item}: {response.status_code} {response.text[:120]}")
    return sent
