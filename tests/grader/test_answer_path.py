"""What grading an mcq or numeric answer needs: its item's models and no settings. The models
are named per kind (grader/models/registry.py) and imported on first use, and `Grader` reads
its settings only for an item that runs code (issue 16: `grader answer` started in 0.7 s)."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.grading import Grader
from grader.grading.grader import runs_code
from grader.models import ITEM_KINDS, item_model
from grader.models.registry import KIND_MODELS
from grader.settings import GraderSettings
from tests.grader.items import mcq, numeric, write

PREDICT = """\
schema_version: 1
id: prints-one
kind: predict
title: Predict
prompt: What does it print?
difficulty: easy
snippet: print(1)
explanation: It prints 1.
"""


@pytest.mark.parametrize("kind", sorted(KIND_MODELS))
def test_each_kind_is_read_by_the_model_of_that_kind(kind: str) -> None:
    model = item_model(kind)
    assert typing.get_args(model.model_fields["kind"].annotation) == (kind,)
    assert ITEM_KINDS[kind] is model


def test_an_unknown_kind_has_no_model() -> None:
    with pytest.raises(KeyError):
        item_model("essay")


def unreadable() -> GraderSettings:
    raise AssertionError("the settings were read")


@pytest.mark.parametrize(
    ("item_id", "answer", "passed"),
    [("resnet-head", "B", True), ("resnet-head", "C", False), ("precision-85", "0.85", True)],
    ids=["mcq-right", "mcq-wrong", "numeric"],
)
def test_an_mcq_or_numeric_answer_reads_no_settings(
    tmp_path: Path, item_id: str, answer: str, passed: bool
) -> None:
    mcq(tmp_path)
    numeric(tmp_path)
    bank = load_bank([tmp_path])
    with Grader(bank, settings=unreadable) as grader:
        assert grader.grade(item_id, answer).passed is passed
    assert not runs_code(bank.get(item_id))


def test_an_item_that_runs_code_reads_the_settings_once(tmp_path: Path) -> None:
    write(tmp_path, "prints-one", PREDICT)
    bank = load_bank([tmp_path])
    made: list[GraderSettings] = []

    def settings() -> GraderSettings:
        made.append(GraderSettings(cache=tmp_path / "cache"))
        return made[-1]

    grader = Grader(bank, settings=settings)
    assert runs_code(bank.get("prints-one")) and not made
    assert grader.settings is grader.settings and len(made) == 1
