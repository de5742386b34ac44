"""The judge, one row per kind of expectation: what passes, what fails, and the words a student
reads. Observations are written by hand in the shape the channel carries; no sandbox needed."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from grader.errors import ReferenceMissing
from grader.grading.checks import EVALUATORS, judge
from grader.models import Check, CheckResult
from grader.models.code import Expect


class Row(NamedTuple):
    expect: dict[str, Any]
    observation: dict[str, Any] | None
    passed: bool
    #: A fragment of "Expected ...; observed ..." (a failing check's message ends with it).
    shows: str
    reference: dict[str, Any] | None = None
    labels: list[Any] | None = None


def value(kind: str, **fields: Any) -> dict[str, Any]:
    """A value summary as the observer writes it, its class first in its mro."""
    return {"type": kind, "mro": [kind, "object"], **fields}


def ran(result: dict[str, Any] | None = None, stdout: str = "") -> dict[str, Any]:
    return {"stdout": stdout} | ({"result": result} if result is not None else {})


def raised(kind: str, message: str, *bases: str) -> dict[str, Any]:
    error = {"type": kind, "mro": [kind, *bases, "Exception"], "message": message}
    return {"stdout": "", "error": error | {"frames": [{"line": 3, "code": "x = f()"}]}}


RESNET = {
    "type": "torchvision.models.resnet.ResNet",
    "mro": ["torchvision.models.resnet.ResNet", "torch.nn.modules.module.Module", "object"],
}
PAIR = value("list", items=[value("list", items=[value("str"), value("float")])])
INTS = value("list", items=[value("int", value=1), value("int", value=2)])
LABELS = [1, 0, 1, 1]
ACCURACY = {"accuracy": {"labels": "labels.json", "at_least": 0.75}}
HEAD = {"conforms": {"arch": "resnet18", "heads": {"fc": [5, 512]}}}
TENSOR = {"type": "torch.Tensor", "shape": [1, 2], "dtype": "float32", "values": [[1.0, 2.0]]}


def predicted(*labels: Any) -> dict[str, Any]:
    return ran(value("list", items=[{"type": type(x).__name__, "value": x} for x in labels]))


ROWS = {
    # Before any expectation: did the check run, could it be read, did it raise?
    "not-run": Row({"no_error": True}, None, False, "the program stopped before it ran"),
    "unreadable": Row(
        {"value": 1}, {"unreadable": "bad frame"}, False, "observed output that could not be read"
    ),
    "no-error": Row({"no_error": True}, ran(), True, "Expected no error; observed no error."),
    "error": Row(
        {"value": 1},
        raised("NameError", "name 'y' is not defined"),
        False,
        "Expected no error; observed NameError: name 'y' is not defined (line 3: x = f())",
    ),
    "raises": Row(
        {"raises": {"type": "LookupError", "match": "miss"}},
        raised("KeyError", "'missing'", "LookupError"),
        True,
        "Expected LookupError matching /miss/; observed KeyError: 'missing'",
    ),
    "raises-nothing": Row(
        {"raises": {"type": "ValueError"}}, ran(value("int")), False, "observed no exception."
    ),
    "raises-other-message": Row(
        {"raises": {"type": "ValueError", "match": "^empty"}},
        raised("ValueError", "not empty"),
        False,
        "Expected ValueError matching /^empty/; observed ValueError: not empty",
    ),
    # One row or more per evaluator.
    "type-subclass": Row(
        {"type": "Module"}, ran(RESNET), True, "observed no error; a torchvision.models.resnet"
    ),
    "type-builtin-exact": Row(
        {"type": "float"}, ran(value("x.float")), False, "Expected a float; observed a x.float."
    ),
    "type-not-a-suffix": Row(
        {"type": "odule"}, ran(RESNET), False, "Expected a odule; observed a torchvision."
    ),
    "types": Row({"types": [["str", "float"]]}, ran(PAIR), True, 'types [["str", "float"]]'),
    "types-extra-item": Row(
        {"types": ["int"]},
        ran(INTS),
        False,
        'Expected types ["int"]; observed types ["int", "int"]',
    ),
    "shape": Row({"shape": [1, 2]}, ran(TENSOR), True, "observed no error; shape [1, 2]"),
    "shape-none": Row(
        {"shape": [1, 2]}, ran(INTS), False, "Expected shape [1, 2]; observed a list (no shape)."
    ),
    "shape-from-reference": Row(
        {"shape": {"from": "reference"}}, ran(TENSOR), True, "shape [1, 2]", ran(TENSOR)
    ),
    "shape-from-reference-differs": Row(
        {"shape": {"from": "reference"}},
        ran(TENSOR),
        False,
        "Expected shape [2, 1]; observed shape [1, 2].",
        ran(TENSOR | {"shape": [2, 1]}),
    ),
    "dtype-prefix-dropped": Row(
        {"dtype": "torch.float32"}, ran(TENSOR), True, "observed no error; dtype float32"
    ),
    "dtype": Row(
        {"dtype": "float64"}, ran(TENSOR), False, "Expected dtype float64; observed dtype float32."
    ),
    "value-within-tolerance": Row(
        {"value": 0.5, "tolerance": {"absolute": 0.01}},
        ran(value("float", value=0.505)),
        True,
        "observed no error; 0.505",
    ),
    "value-tensor-off": Row(
        {"value": [[1, 2.1]]}, ran(TENSOR), False, "Expected [[1, 2.1]]; observed [[1.0, 2.0]]."
    ),
    "value-default-tolerance-is-tight": Row(
        {"value": 0.0}, ran(value("float", value=0.001)), False, "Expected 0.0; observed 0.001."
    ),
    "value-extra-key": Row(
        {"value": {"a": 1}},
        ran(value("dict", items={"a": value("int", value=1), "b": value("int", value=2)})),
        False,
        'Expected {"a": 1}; observed {"a": 1, "b": 2}.',
    ),
    "value-nan-is-not-a-number": Row(
        {"value": 1.0},
        ran(value("float", value={"$float": "nan"})),
        False,
        "Expected 1.0; observed NaN.",
    ),
    "value-from-reference": Row(
        {"value": {"from": "reference"}}, ran(TENSOR), True, "[[1.0, 2.0]]", ran(TENSOR)
    ),
    "value-from-reference-differs": Row(
        {"value": {"from": "reference"}},
        ran(TENSOR),
        False,
        "Expected [[1.0, 3.0]]; observed [[1.0, 2.0]].",
        ran(TENSOR | {"values": [[1.0, 3.0]]}),
    ),
    "trainable-patterns": Row(
        {"trainable": {"names": ["fc.*"]}},
        ran(RESNET | {"trainable": ["fc.weight", "fc.bias"]}),
        True,
        'trainable [\'fc.*\']; observed no error; trainable ["fc.weight", "fc.bias"]',
    ),
    "trainable-pattern-unmatched": Row(
        {"trainable": {"names": ["fc.*", "layer4.*"]}},
        ran(RESNET | {"trainable": ["fc.weight"]}),
        False,
        "Expected trainable ['fc.*', 'layer4.*']; observed trainable [\"fc.weight\"].",
    ),
    "trainable-beyond-the-patterns": Row(
        {"trainable": {"names": ["fc.*"]}},
        ran(RESNET | {"trainable": ["fc.weight", "layer4.0.weight"]}),
        False,
        'observed trainable ["fc.weight", "layer4.0.weight"].',
    ),
    "trainable-count": Row(
        {"trainable": {"count": 2}},
        ran(RESNET | {"trainable": ["a", "b", "c"]}),
        False,
        'Expected trainable 2; observed trainable ["a", "b", "c"].',
    ),
    "trainable-not-a-model": Row(
        {"trainable": {"count": 0}}, ran(value("int")), False, "Expected a model; observed a int."
    ),
    "stdout-regex": Row(
        {"stdout": {"regex": r"loss \d"}},
        ran(stdout="epoch 1 loss 3\n"),
        True,
        "Expected no error; output matching /loss \\d/",
    ),
    "stdout-exact": Row(
        {"stdout": {"exact": "Hi"}}, ran(stdout="hi"), False, "Expected Hi; observed hi."
    ),
    "stdout-normalised": Row(
        {"stdout": {"normalised": "a b\nc"}}, ran(stdout="\n a   b \nc\n\n"), True, "a b c"
    ),
    "stdout-normalised-keeps-lines": Row(
        {"stdout": {"normalised": "a b\nc"}}, ran(stdout="a b c"), False, "Expected a b c;"
    ),
    "accuracy": Row(
        ACCURACY,
        predicted(1, 0, 1, 0),
        True,
        "Expected no error; accuracy at least 0.75; observed no error; accuracy 0.750.",
        labels=LABELS,
    ),
    "accuracy-too-few": Row(
        ACCURACY,
        predicted(1, 0),
        False,
        "Expected 4 predicted labels; observed [1, 0].",
        None,
        LABELS,
    ),
    "accuracy-booleans-are-not-labels": Row(
        ACCURACY,
        predicted(True, False, True, True),
        False,
        "observed accuracy 0.000.",
        None,
        LABELS,
    ),
    "conforms": Row(
        HEAD,
        ran(RESNET | {"conforms": {"ok": True}}),
        True,
        "a torchvision resnet18 with fc of shape [5, 512]; observed no error; a model that is one",
    ),
    "conforms-why-not": Row(
        HEAD,
        ran(RESNET | {"conforms": {"ok": False, "why": "unexpected key head.weight"}}),
        False,
        "with fc of shape [5, 512]; observed unexpected key head.weight.",
    ),
    "conforms-only-true-is-ok": Row(
        HEAD,
        ran(RESNET | {"conforms": {"ok": "yes"}}),
        False,
        "observed a torchvision.models.resnet.ResNet.",
    ),
    "step-rates-within-5pc": Row(
        {"step_rates": [[2, 0.01]]},
        ran(value("tuple", step_rates=[[2, 0.0104]])),
        True,
        "Expected no error; [tensors, rate] [[2, 0.01]]; observed no error; [tensors, rate]",
    ),
    "step-rates-off": Row(
        {"step_rates": [[2, 0.01]]},
        ran(value("tuple", step_rates=[[2, 0.0106]])),
        False,
        "Expected [tensors, rate] [[2, 0.01]]; observed [tensors, rate] [[2, 0.0106]].",
    ),
    "step-rates-a-group-missing": Row(
        {"step_rates": [[2, 0.01], [3, 0.001]]},
        ran(value("tuple", step_rates=[[2, 0.01]])),
        False,
        "[[2, 0.01], [3, 0.001]]; observed [tensors, rate] [[2, 0.01]].",
    ),
    # AdamW's default weight decay: a weight of 1.0 moves by lr * (1 - 0.01) in some tensors.
    "step-rates-split-by-rounding": Row(
        {"step_rates": [[60, 1e-4], [2, 1e-3]]},
        ran(value("tuple", step_rates=[[12, 9.9e-05], [48, 0.0001], [2, 0.001]])),
        True,
        "Expected no error; [tensors, rate] [[60, 0.0001], [2, 0.001]]; observed no error;",
    ),
    "step-rates-a-tensor-at-another-rate": Row(
        {"step_rates": [[2, 0.01]]},
        ran(value("tuple", step_rates=[[1, 0.01], [1, 0.019]])),
        False,
        "observed [tensors, rate] [[1, 0.01], [1, 0.019]].",
    ),
    "step-rates-too-many-in-a-group": Row(
        {"step_rates": [[60, 1e-4], [2, 1e-3]]},
        ran(value("tuple", step_rates=[[61, 9.9e-05], [1, 0.001]])),
        False,
        "observed [tensors, rate] [[61, 9.9e-05], [1, 0.001]].",
    ),
    "step-rates-not-a-count": Row(
        {"step_rates": [[2, 0.01]]},
        ran(value("tuple", step_rates=[[True, 0.01], [1, 0.01]])),
        False,
        "observed [tensors, rate]",
    ),
    "step-rates-none": Row(
        {"step_rates": [[2, 0.01]]},
        ran(value("tuple")),
        False,
        "steps [[2, 0.01]]; observed a tuple",
    ),
    # Only the expectations that failed are shown, in the order Expect declares them.
    "two-failures": Row(
        {"shape": [2], "dtype": "int64"},
        ran(TENSOR),
        False,
        "Expected shape [2]; dtype int64; observed shape [1, 2]; dtype float32.",
    ),
}


def a_check(expect: dict[str, Any], hidden: bool = False) -> Check:
    fields = {"name": "c", "points": 2, "message": "About c.", "eval": "x", "expect": expect}
    return Check.model_validate(fields | {"hidden": hidden})


def said(found: CheckResult) -> str:
    return f"Expected {found.expected}; observed {found.observed}."


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_a_check_is_judged_in_words_a_student_can_act_on(row: Row) -> None:
    found = judge(a_check(row.expect), row.observation, row.reference, row.labels)
    assert found.passed is row.passed and found.score == (2 if row.passed else 0)
    assert row.shows in said(found)
    assert found.message == "About c." + ("" if row.passed else " " + said(found))


def test_a_hidden_check_shows_only_what_was_observed() -> None:
    found = judge(a_check({"dtype": "float64"}, hidden=True), ran(TENSOR))
    assert found.expected is None
    assert found.message == "About c. Observed dtype float32; the expected value is hidden."


@pytest.mark.parametrize("kind", ["shape", "value"])
def test_a_reference_that_gave_nothing_is_the_graders_fault(kind: str) -> None:
    with pytest.raises(ReferenceMissing):
        judge(a_check({kind: {"from": "reference"}}), ran(TENSOR), {"stdout": ""})


#: Expectations that are not an evaluator of their own: a gate before them, a qualifier of
#: `value`, or judged on the host after them.
NOT_EVALUATORS = {"no_error", "raises", "tolerance", "accuracy"}


def test_every_expectation_is_judged() -> None:
    """A new field of `Expect` with no evaluator would be silently ignored: no longer."""
    assert set(Expect.model_fields) == set(EVALUATORS) | NOT_EVALUATORS
    assert not set(EVALUATORS) & NOT_EVALUATORS


@pytest.mark.parametrize(
    ("rates", "problem"),
    [
        ([[60, 1e-4], [2, 1e-3]], None),
        ([], "give at least one [count, rate]"),
        ([[0, 1e-4]], "a count of tensors is at least 1"),
        ([[2, 0.0]], "a rate is a positive number"),
        ([[2, 1e-3], [3, 1.05e-3]], "rates 0.001 and 0.00105 are too close"),
    ],
    ids=["two-groups", "none", "no-tensors", "zero-rate", "too-close"],
)
def test_step_rates_a_step_can_tell_apart(rates: list[list[float]], problem: str | None) -> None:
    from grader.models.code import Expect

    messages = [message for _, message in Expect.model_validate({"step_rates": rates}).problems()]
    assert messages == [] if problem is None else len(messages) == 1 and problem in messages[0]
