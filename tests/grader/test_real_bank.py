"""The shipped bank: valid, every required id present, every key graded, nothing leaked."""

from __future__ import annotations

import json
from string import ascii_uppercase

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.grading.answers import grade_answer
from grader.models import McqItem, NumericItem, item_json_schema
from sandbox.settings import REPO_ROOT

BANK = load_bank([REPO_ROOT / "questions"])

PAGE_IDS = """
pretrained-saves-time load-pretrained-resnet50 keras-mobilenetv2-output-shape sequential-has-no-fc
cats-dogs-500-images pretrained-speeds-development resnet50-weights-string
finetune-10-classes-output-shape head-shape-mismatch small-data-limited-gpu finetuning-purpose
freeze-with-requires-grad frozen-requires-grad-sum finetuning-no-improvement finetuning-steps-order
torchvision-pretrained-advantage resnet18-weights-enum resnet18-output-shape forgot-model-eval
resnet18-replace-fc-5-classes fraud-accuracy-vs-recall
""".split()
CODE_IDS = """replace-head-5-classes freeze-backbone fix-sequential-fc binary-metrics
imagenet-preprocess""".split()
ANSWERABLE = sorted(i for i, item in BANK.items.items() if isinstance(item, McqItem | NumericItem))


def test_bank_is_valid() -> None:
    assert BANK.issues == []


@pytest.mark.parametrize("item_id", PAGE_IDS + CODE_IDS)
def test_required_ids_exist(item_id: str) -> None:
    assert item_id in BANK.items


def test_metrics_items_and_verify_snippets() -> None:
    numeric = [i for i in BANK.items.values() if isinstance(i, NumericItem)]
    assert len(numeric) >= 4  # precision, recall, F1 and accuracy, each a matrix per student
    verified = [i for i in BANK.items.values() if isinstance(i, McqItem) and i.verify]
    assert len(verified) >= 8, [i.id for i in verified]


@pytest.mark.parametrize("item_id", ANSWERABLE)
def test_key_passes_and_other_answers_fail(item_id: str) -> None:
    item = BANK.items[item_id]
    if isinstance(item, McqItem):
        assert grade_answer(item, item.answer).passed
        for letter in ascii_uppercase[: len(item.choices)]:
            if letter != item.answer:
                assert not grade_answer(item, letter).passed
    else:
        assert isinstance(item, NumericItem)
        assert grade_answer(item, repr(item.answer)).passed
        assert not grade_answer(item, repr(item.answer + 0.1)).passed


@pytest.mark.parametrize("item_id", sorted(BANK.items))
def test_show_never_leaks(capsys: pytest.CaptureFixture[str], item_id: str) -> None:
    item = BANK.items[item_id]
    for fmt in ([], ["--json"]):
        assert main(["--bank", str(REPO_ROOT / "questions"), "show", item_id, *fmt]) == 0
        out = capsys.readouterr().out
        assert longest_line(item.explanation) not in out
        for choice in getattr(item, "choices", []):
            assert longest_line(choice.feedback) not in out
        if isinstance(item, McqItem) and item.verify:
            assert longest_line(item.verify.snippet, besides=item.prompt) not in out


def longest_line(text: str, besides: str = "") -> str:
    """The most telling line of a hidden text (lines the prompt itself shows do not count)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() not in besides]
    return max(lines, key=len)


def test_committed_schema_is_current() -> None:
    committed = json.loads((REPO_ROOT / "questions" / "question.schema.json").read_text())
    assert committed == item_json_schema(), "run `make schema`"
