"""Predict items: which spellings of an answer agree with what the snippet prints, and the words
a student reads. The snippet's run is faked: only the comparison is under test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grader.errors import BadAnswer, SnippetFailed
from grader.grading.predict import canonical, grade_prediction
from grader.models import PredictItem, Verdict
from sandbox.base import RunRequest, RunResult
from sandbox.fake import FakeSandbox, result

PRINTS_SHAPE = "torch.Size([8, 1000])"


def an_item(answer_type: str = "shape", points: float = 2) -> PredictItem:
    return PredictItem.model_validate(
        {
            "schema_version": 1,
            "id": "batch-shape",
            "kind": "predict",
            "title": "Shape",
            "prompt": "What does it print?",
            "difficulty": "easy",
            "points": points,
            "explanation": "A batch of 8, 1000 classes.",
            "snippet": "print(model(x).shape)",
            "answer_type": answer_type,
        }
    )


@pytest.mark.parametrize(
    "answer",
    [
        PRINTS_SHAPE,
        "[8, 1000]",
        "(8, 1000)",
        "(8,1000)",
        "  torch.Size([8, 1000])\n",
        "8x1000",
        "8 × 1000",
        "8*1000",
        "8 X 1000",
        "Size([8, 1000])",
    ],
    ids=[
        "torch-size",
        "list",
        "tuple",
        "no-space",
        "padded",
        "times-x",
        "times-sign",
        "star",
        "capital-x",
        "size-without-torch",
    ],
)
def test_spellings_of_a_shape_agree(answer: str) -> None:
    item = an_item()
    assert canonical(item, answer) == canonical(item, PRINTS_SHAPE) == "(8, 1000)"


@pytest.mark.parametrize(
    "answer",
    ["(1000, 8)", "(8, 1000, 1)", "torch.Size([8, 100])", "(8.0, 1000)", "8 images by 1000",
     "torch.Size([8, 1000]) or so", "()", "8x100", "1000x8", "8x1000x", "x8x1000"],
    ids=["transposed", "extra-dim", "wrong-size", "float", "words", "trailing-words", "scalar",
         "times-wrong-size", "times-transposed", "times-dangling", "times-leading"],
)  # fmt: skip
def test_other_shapes_do_not_agree(answer: str) -> None:
    item = an_item()
    assert canonical(item, answer) != canonical(item, PRINTS_SHAPE)


@pytest.mark.parametrize(
    ("answer", "printed", "agree"),
    [
        ("tensor([1.,  2.])\n", "tensor([1., 2.])", True),
        ("\n a \n b \n\n", "a\nb", True),
        ("a\n\nb", "a\nb", False),  # blank lines count, except at the ends
        ("(8, 1000)", "[8, 1000]", False),  # only shapes are read as integers
        ("a b", "a\nb", False),  # lines are kept
        ("Tensor([1., 2.])", "tensor([1., 2.])", False),
    ],
    ids=[
        "inner-spaces",
        "ends-trimmed",
        "inner-blank-line",
        "shape-spellings",
        "line-break",
        "case",
    ],
)
def test_text_is_compared_after_whitespace_only(answer: str, printed: str, agree: bool) -> None:
    item = an_item("text")
    assert (canonical(item, answer) == canonical(item, printed)) is agree


def snippet_run(observation: dict[str, Any]) -> FakeSandbox:
    """A sandbox whose run of any snippet observes `observation` on the channel."""

    def answer(request: RunRequest) -> RunResult:
        nonce = request.stdin.decode()  # the observer's secret, given on stdin
        lines = [
            {"nonce": nonce, "probe": "load", "observation": observation},
            {"nonce": nonce, "done": True},
        ]
        return result("".join(json.dumps(x) + "\n" for x in lines).encode())

    return FakeSandbox(answer)


PRINTS = snippet_run({"stdout": PRINTS_SHAPE + "\n"})


@pytest.mark.parametrize(
    ("answer", "verdict", "message"),
    [
        ("[8, 1000]", Verdict.PASSED, "You predicted (8, 1000); the snippet prints (8, 1000)."),
        (
            "(1000, 8)",
            Verdict.WRONG_ANSWER,
            "You predicted (1000, 8); the snippet prints (8, 1000).",
        ),
    ],
    ids=["right", "wrong"],
)
def test_a_prediction_is_graded_against_what_the_snippet_printed(
    tmp_path: Path, answer: str, verdict: Verdict, message: str
) -> None:
    report = grade_prediction(an_item(), answer, PRINTS, cache=tmp_path)
    right = verdict is Verdict.PASSED
    assert report.verdict is verdict and report.score == (2 if right else 0)
    assert report.checks[0].message == message


def test_an_empty_prediction_is_refused_unrun(tmp_path: Path) -> None:
    sandbox = snippet_run({"stdout": PRINTS_SHAPE})
    with pytest.raises(BadAnswer, match="empty answer"):
        grade_prediction(an_item(), " \n", sandbox, cache=tmp_path)
    assert sandbox.requests == []


def test_a_snippet_that_raises_is_the_items_fault(tmp_path: Path) -> None:
    raised = snippet_run({"stdout": "", "error": {"type": "NameError", "message": "no model"}})
    with pytest.raises(SnippetFailed, match="batch-shape: the snippet raised NameError: no model"):
        grade_prediction(an_item(), "(8, 1000)", raised, cache=tmp_path)


def test_a_letter_alone_is_not_the_scalar_shape() -> None:
    item = an_item()
    assert canonical(item, "x") != canonical(item, "torch.Size([])") == "()"


@pytest.mark.parametrize(
    ("answer", "verdict", "message", "hint"),
    [
        (
            "8x1000",
            Verdict.PASSED,
            "You predicted (8, 1000); the snippet prints (8, 1000). "
            "Python prints this shape as torch.Size([8, 1000]).",
            None,
        ),
        (
            "8 × 100",
            Verdict.WRONG_ANSWER,
            "You predicted (8, 100); the snippet prints (8, 1000).",
            "Python prints this shape as torch.Size([8, 100])",
        ),
        (
            "8 images, 1000 classes",
            Verdict.WRONG_ANSWER,
            "You predicted 8 images, 1000 classes; the snippet prints (8, 1000).",
            "write a shape as Python prints it, e.g. torch.Size([2, 3]), or as [2, 3]",
        ),
        (
            "torch.Size([8, 1000])",
            Verdict.PASSED,
            "You predicted (8, 1000); the snippet prints (8, 1000).",
            None,
        ),
    ],
    ids=["times-right", "times-wrong", "not-a-shape", "as-python-prints"],
)
def test_a_shape_in_a_near_miss_format_is_graded_as_its_shape_with_a_note(
    tmp_path: Path, answer: str, verdict: Verdict, message: str, hint: str | None
) -> None:
    report = grade_prediction(an_item(), answer, PRINTS, cache=tmp_path)
    assert report.verdict is verdict
    assert (report.checks[0].message, report.checks[0].hint) == (message, hint)


PRINTS_COUNT = snippet_run({"stdout": "2565\n"})


@pytest.mark.parametrize(
    ("answer", "verdict", "hint"),
    [
        ("2,565", Verdict.WRONG_ANSWER, "Python prints integers without separators: 2565"),
        ("11 176 512", Verdict.WRONG_ANSWER, "Python prints integers without separators: 11176512"),
        ("2565", Verdict.PASSED, None),
        ("2564", Verdict.WRONG_ANSWER, None),
    ],
    ids=["comma", "spaces", "as-printed", "plain-wrong"],
)
def test_a_number_with_separators_is_wrong_with_a_hint(
    tmp_path: Path, answer: str, verdict: Verdict, hint: str | None
) -> None:
    """Text items compare what is printed: `2,565` is not what Python prints, so it is not
    accepted, but the hint says how Python writes it."""
    report = grade_prediction(an_item("text"), answer, PRINTS_COUNT, cache=tmp_path)
    assert report.verdict is verdict and report.checks[0].hint == hint
