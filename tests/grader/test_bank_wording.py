"""The shipped bank as students read it: ids that say what an item asks (the ids named after the
course's internal page numbers still find their items) and no internal wording in any text a
student is shown."""

from __future__ import annotations

import re

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.models import CodeItem, McqItem
from sandbox.settings import REPO_ROOT

BANK = load_bank([REPO_ROOT / "questions"])

#: Former id -> id. Servers store submissions and assignments under the former ids.
RENAMED = {
    "metrics-000-accuracy": "accuracy-tp85-fp15-fn10",
    "metrics-000-f1": "f1-tp85-fp15-fn10",
    "metrics-000-precision": "precision-tp85-fp15-fn10",
    "metrics-000-recall": "recall-tp85-fp15-fn10",
    "metrics-001-f1": "f1-tp85-fp10-fn15",
    "metrics-001-precision": "precision-tp85-fp10-fn15",
    "metrics-001-recall": "recall-tp85-fp10-fn15",
    "metrics-003-accuracy": "accuracy-tp80-fp10-fn20",
    "metrics-003-f1": "f1-tp80-fp10-fn20",
    "metrics-003-precision": "precision-tp80-fp10-fn20",
    "metrics-004-dog-recall": "recall-dog-positive",
    "metrics-004-f1": "f1-cat-positive",
    "metrics-004-precision": "precision-cat-positive",
    "metrics-004-recall": "recall-cat-positive",
}
#: How the bank's origin leaks into what students read: "the page's answer (B)", "page 001",
#: "we changed the prompt".
INTERNAL = re.compile(
    r"\bthe page\b|\bpage'?s?\b\s*\d|\bpages?\s+\d{3}\b|\bwe (?:changed|added|replaced)\b"
    r"|\bself-check\b",
    re.IGNORECASE,
)


def student_texts(item_id: str) -> list[str]:
    """Every text of an item a student may read: prompt, title, choices and their feedback, the
    explanation, check names, messages and hints."""
    item = BANK.items[item_id]
    texts = [item.title, item.prompt, item.explanation or ""]
    if isinstance(item, McqItem):
        texts += [text for c in item.choices for text in (c.text, c.feedback or "")]
    if isinstance(item, CodeItem):
        texts += [text for c in item.checks for text in (c.name, c.message, c.hint or "")]
    return texts


@pytest.mark.parametrize(("former", "new"), sorted(RENAMED.items()))
def test_a_renamed_item_is_found_by_its_former_id(former: str, new: str) -> None:
    assert former not in BANK.items and BANK.get(former).id == new
    assert (REPO_ROOT / "questions" / "metrics" / f"{new}.yaml").is_file()


def test_an_answer_to_a_former_id_is_graded_as_the_item(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["answer", "metrics-000-precision", "85%"]) == 0
    assert "PASSED  precision-tp85-fp15-fn10" in capsys.readouterr().out


def test_no_id_is_named_after_a_page_number() -> None:
    assert [i for i in BANK.items if re.search(r"(^|-)0\d\d(-|$)", i)] == []  # 500 images is fine


@pytest.mark.parametrize("item_id", sorted(BANK.items))
def test_what_a_student_reads_has_no_internal_wording(item_id: str) -> None:
    found = [m.group() for text in student_texts(item_id) for m in INTERNAL.finditer(text)]
    assert found == []


def test_numeric_titles_tell_the_items_apart() -> None:
    titles = [item.title for item in BANK.items.values()]
    assert sorted({t for t in titles if titles.count(t) > 1}) == []
