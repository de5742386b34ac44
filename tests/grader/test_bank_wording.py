"""The shipped bank as students read it: ids that say what an item asks (the ids named after the
course's internal page numbers still find their items) and no internal wording in any text a
student is shown."""

from __future__ import annotations

import re

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.models import CodeItem, McqItem, NumericItem
from sandbox.settings import REPO_ROOT

BANK = load_bank([REPO_ROOT / "questions"])

#: Former id -> (item, key). Servers store submissions and assignments under the former ids: the
#: page-numbered ones, then the ids of the static confusion-matrix items that became parameterised
#: items. Each names a fixed variant of that item with the former item's numbers and key.
FORMER = {
    "accuracy-tp80-fp10-fn20": ("confusion-accuracy", 0.850),
    "accuracy-tp85-fp15-fn10": ("confusion-accuracy", 0.875),
    "f1-cat-positive": ("confusion-f1", 0.842),
    "f1-tp80-fp10-fn20": ("confusion-f1", 0.842),
    "f1-tp85-fp10-fn15": ("confusion-f1", 0.872),
    "f1-tp85-fp15-fn10": ("confusion-f1", 0.872),
    "metrics-000-accuracy": ("confusion-accuracy", 0.875),
    "metrics-000-f1": ("confusion-f1", 0.872),
    "metrics-000-precision": ("confusion-precision", 0.850),
    "metrics-000-recall": ("confusion-recall", 0.895),
    "metrics-001-f1": ("confusion-f1", 0.872),
    "metrics-001-precision": ("confusion-precision", 0.895),
    "metrics-001-recall": ("confusion-recall", 0.850),
    "metrics-003-accuracy": ("confusion-accuracy", 0.850),
    "metrics-003-f1": ("confusion-f1", 0.842),
    "metrics-003-precision": ("confusion-precision", 0.889),
    "metrics-004-dog-recall": ("confusion-recall", 0.818),
    "metrics-004-f1": ("confusion-f1", 0.842),
    "metrics-004-precision": ("confusion-precision", 0.800),
    "metrics-004-recall": ("confusion-recall", 0.889),
    "precision-cat-positive": ("confusion-precision", 0.800),
    "precision-tp80-fp10-fn20": ("confusion-precision", 0.889),
    "precision-tp85-fp10-fn15": ("confusion-precision", 0.895),
    "precision-tp85-fp15-fn10": ("confusion-precision", 0.850),
    "recall-cat-positive": ("confusion-recall", 0.889),
    "recall-dog-positive": ("confusion-recall", 0.818),
    "recall-tp85-fp10-fn15": ("confusion-recall", 0.850),
    "recall-tp85-fp15-fn10": ("confusion-recall", 0.895),
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


@pytest.mark.parametrize(("former", "item_id", "key"), [(f, *v) for f, v in sorted(FORMER.items())])
def test_a_former_id_names_a_fixed_variant_with_its_old_key(
    former: str, item_id: str, key: float
) -> None:
    assert former not in BANK.items
    item = BANK.variant(former, 12345)
    assert isinstance(item, NumericItem) and item.id == item_id and item.answer == key
    assert not item.varies
    assert BANK.variant(former, 0) == item == BANK.get(former)  # the same whatever the seed
    assert (REPO_ROOT / "questions" / "metrics" / f"{item_id}.yaml").is_file()


def test_an_answer_to_a_former_id_is_graded_as_the_item(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["answer", "metrics-000-precision", "85%"]) == 0
    assert "PASSED  confusion-precision" in capsys.readouterr().out
    assert main(["answer", "precision-tp85-fp15-fn10", "0.895"]) == 1


def test_no_id_is_named_after_a_page_number() -> None:
    assert [i for i in BANK.items if re.search(r"(^|-)0\d\d(-|$)", i)] == []  # 500 images is fine


@pytest.mark.parametrize("item_id", sorted(BANK.items))
def test_what_a_student_reads_has_no_internal_wording(item_id: str) -> None:
    found = [m.group() for text in student_texts(item_id) for m in INTERNAL.finditer(text)]
    assert found == []


def test_numeric_titles_tell_the_items_apart() -> None:
    titles = [item.title for item in BANK.items.values()]
    assert sorted({t for t in titles if titles.count(t) > 1}) == []
