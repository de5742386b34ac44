"""Variants (issue 17): the params' draw, the templates, and what the bank makes of an item that
varies: its variant of seed 0, another seed's, a fixed alias's, and each author's mistake as an
issue at the template's `file:line`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from grader.bank import load_bank
from grader.errors import BankIssue, UnknownQuestion
from grader.models import CodeItem, McqItem, NumericItem
from grader.variants.params import ParamSpec, draw
from grader.variants.shuffle import order
from grader.variants.templates import RenderError, render_text
from tests.grader.items import MEAN_OF_HEAD, write

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(200)
SPECS: Any = TypeAdapter(dict[str, ParamSpec])

PRECISION = """\
schema_version: 1
id: precision
kind: numeric
title: Precision
prompt: "TP = {{ cm.tp }}, FP = {{ cm.fp }}. Precision, to 3 decimals?"
difficulty: medium
params:
  cm: {confusion: {total: [100, 300]}}
aliases:
  - old-precision
  - id: precision-85-15
    params: {cm: {tp: 85, fp: 15, fn: 10, tn: 90}}
answer: "{{ (cm.tp / (cm.tp + cm.fp)) | round(3) }}"
tolerance: {absolute: 0.0005}
explanation: "{{ cm.tp }} / ({{ cm.tp }} + {{ cm.fp }})"
"""

SHUFFLED = """\
schema_version: 1
id: frozen
kind: mcq
title: Freezing
prompt: Which layers train?
difficulty: easy
shuffle: true
choices:
  - {text: All of them, feedback: No., id: all-layers}
  - {text: Only the new head, feedback: Right., id: new-head}
  - {text: Only the first block, feedback: No., id: first-block}
  - {text: None of the above, feedback: No., id: none-above, fixed: true}
answer: B
verify:
  proves: B
  snippet: print('B')
  output: B
explanation: The frozen layers do not train.
"""

SHAPE_CODE = (
    MEAN_OF_HEAD.format(id="shape-code")
    + """\
params:
  classes: {class_count: [3, 12]}
contract: [{name: mean_of, signature: "mean_of(values) -> float"}]
checks:
  - name: shape
    message: "{{ classes }} scores"
    eval: "mean_of([1, 2])"
    expect: {shape: [2, "{{ classes }}"]}
"""
)


def bank_of(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "bank"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write(folder, name.replace("_", "-"), text)
    return folder


def only_issue(folder: Path) -> BankIssue:
    bank = load_bank([folder])
    assert len(bank.issues) == 1, bank.issues
    return bank.issues[0]


def line_of(folder: Path, name: str, needle: str) -> int:
    lines = (folder / f"{name}.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


# ---- the draw ---------------------------------------------------------------------------------

GENERATORS = {
    "int": {"int": [3, 12], "step": 3},
    "float": {"float": [0.001, 0.1], "step": 0.001},
    "choice": {"choice": [4, 8, "sixteen", True]},
    "shape": {"shape": [[1, 8], [3, 3], [16, 64]]},
    "image_size": {"image_size": [160, 288]},
    "confusion": {"confusion": {"total": [100, 300]}},
    "class_count": {"class_count": [3, 20]},
}


def within(generator: str, value: Any) -> Any:
    """The value is one the generator's spec in GENERATORS may give."""
    if generator == "int":
        return value in (3, 6, 9, 12)
    if generator == "float":
        return 0.001 <= value <= 0.1 and value == round(value, 3)
    if generator == "choice":
        return value in (4, 8, "sixteen", True)
    if generator == "shape":
        return 1 <= value[0] <= 8 and value[1] == 3 and 16 <= value[2] <= 64
    if generator == "image_size":
        return value % 32 == 0 and 160 <= value <= 288
    if generator == "confusion":
        cells = [value[c] for c in ("tp", "fp", "fn", "tn")]
        return min(cells) >= 1 and sum(cells) == value["total"] and 100 <= value["total"] <= 300
    return 3 <= value <= 20


@pytest.mark.parametrize("generator", GENERATORS, ids=str)
def test_each_generator_draws_within_its_spec_the_same_for_the_same_seed(generator: str) -> None:
    specs = SPECS.validate_python({"x": GENERATORS[generator]})
    drawn = [draw(specs, "item", seed)["x"] for seed in SEEDS]
    assert all(within(generator, value) for value in drawn), drawn
    assert drawn == [draw(specs, "item", seed)["x"] for seed in SEEDS]
    assert len({repr(value) for value in drawn}) > 1  # seeds give different values
    assert drawn != [draw(specs, "other-item", seed)["x"] for seed in SEEDS]


def test_a_confusion_matrix_has_no_empty_row_or_column() -> None:
    specs = SPECS.validate_python({"cm": {"confusion": {"total": [4, 6]}}})
    for seed in SEEDS:
        cm = draw(specs, "tiny", seed)["cm"]
        assert min(cm["tp"] + cm["fp"], cm["fn"] + cm["tn"], cm["tp"] + cm["fn"]) > 0
        assert min(cm["fp"] + cm["tn"], cm["tp"], cm["fp"], cm["fn"], cm["tn"]) >= 1


def test_a_confusion_matrix_is_as_accurate_as_its_range_says() -> None:
    specs = SPECS.validate_python(
        {"cm": {"confusion": {"total": [100, 400], "accuracy": [0.7, 0.9]}}}
    )
    seen = []
    for seed in SEEDS:
        cm = draw(specs, "acc", seed)["cm"]
        seen.append((cm["tp"] + cm["tn"]) / cm["total"])
    assert min(seen) >= 0.7 - 0.01 and max(seen) <= 0.9 + 0.01
    assert max(seen) - min(seen) > 0.1  # it is drawn, not fixed


def test_a_confusion_accuracy_range_with_low_above_high_is_refused() -> None:
    with pytest.raises(ValidationError, match="low above high"):
        SPECS.validate_python({"cm": {"confusion": {"total": [10, 20], "accuracy": [0.9, 0.6]}}})


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"float": [0.1, 1.0]}, "step"),
        ({"int": [12, 3]}, "empty"),
        ({"int": [1, 2], "choice": [1]}, "exactly one generator"),
        ({"integer": [1, 2]}, "exactly one generator"),
        ({"image_size": [200, 220]}, "no multiple of 32"),
        ({"class_count": [1, 4]}, "greater than or equal to 2"),
        ({"choice": [4], "step": 2}, "step"),
    ],
    ids=["float-no-step", "empty-range", "two", "unknown", "no-32", "one-class", "step-on-choice"],
)
def test_a_bad_param_spec_is_refused(spec: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        SPECS.validate_python({"x": spec})


# ---- templates --------------------------------------------------------------------------------


def test_a_lone_expression_is_its_value_and_other_text_is_text(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, precision=PRECISION, shape_code=SHAPE_CODE)])
    assert bank.issues == []
    item = bank.get("precision")
    assert isinstance(item, NumericItem) and item.variant is not None
    cm = item.variant.values["cm"]
    assert item.answer == round(cm["tp"] / (cm["tp"] + cm["fp"]), 3)
    assert item.prompt == f"TP = {cm['tp']}, FP = {cm['fp']}. Precision, to 3 decimals?"
    code = bank.get("shape-code")
    assert isinstance(code, CodeItem) and code.variant is not None
    classes = code.variant.values["classes"]
    assert code.checks[0].expect.shape == [2, classes] and isinstance(classes, int)
    assert code.checks[0].message == f"{classes} scores"


def test_render_text_renders_a_whole_file() -> None:
    assert render_text("n = {{ n }}\n", {"n": 7}) == "n = 7\n"
    with pytest.raises(RenderError, match="'m' is undefined"):
        render_text("{{ m }}", {"n": 7})


def test_an_unknown_name_is_an_issue_at_its_template(tmp_path: Path) -> None:
    folder = bank_of(tmp_path, precision=PRECISION.replace("FP = {{ cm.fp }}", "FP = {{ cn.fp }}"))
    issue = only_issue(folder)
    assert (issue.field, issue.line) == ("prompt", line_of(folder, "precision", "prompt:"))
    assert "unknown name 'cn'" in issue.message and "params: cm" in issue.message


def test_a_param_no_template_reads_is_an_issue_at_it(tmp_path: Path) -> None:
    text = PRECISION.replace("params:\n", "params:\n  lr: {float: [0.1, 0.5], step: 0.1}\n")
    folder = bank_of(tmp_path, precision=text)
    issue = only_issue(folder)
    assert issue.field == "params.lr" and issue.line == line_of(folder, "precision", "lr:")
    assert "read by no template" in issue.message


def test_a_rendered_value_that_breaks_the_item_is_an_issue_of_seed_0(tmp_path: Path) -> None:
    text = PRECISION.replace('answer: "{{ (cm.tp', "answer: \"{{ 'many' if cm.tp else (cm.tp")
    folder = bank_of(tmp_path, precision=text)
    issue = only_issue(folder)
    assert issue.field == "answer" and issue.line == line_of(folder, "precision", "answer:")
    assert "in the variant with seed 0" in issue.message and "'many'" in issue.message


def test_invalid_jinja_is_an_issue_not_a_crash(tmp_path: Path) -> None:
    folder = bank_of(tmp_path, precision=PRECISION.replace("{{ cm.tp }} / (", "{{ cm.tp / ("))
    issue = only_issue(folder)
    assert issue.field == "explanation" and "invalid template" in issue.message


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__ }}", "{{ cm.__class__.__mro__ }}", "{{ 'x' * 10**9 }}", "{{ 7 ** 99999 }}"],
    ids=["class", "mro", "repeat", "power"],
)
def test_the_sandbox_refuses_and_the_bank_says_so(tmp_path: Path, template: str) -> None:
    text = PRECISION.replace(
        'explanation: "{{ cm.tp }}', f'explanation: "{template} {{{{ cm.tp }}}}'
    )
    issue = only_issue(bank_of(tmp_path, precision=text))
    assert issue.field == "explanation" and "the template fails" in issue.message, issue


def test_a_static_item_keeps_its_braces(tmp_path: Path) -> None:
    static = PRECISION.replace("params:\n  cm: {confusion: {total: [100, 300]}}\n", "")
    static = static.replace(
        "  - id: precision-85-15\n    params: {cm: {tp: 85, fp: 15, fn: 10, tn: 90}}\n", ""
    )
    static = static.replace('"{{ (cm.tp / (cm.tp + cm.fp)) | round(3) }}"', "0.85")
    bank = load_bank([bank_of(tmp_path, precision=static)])
    item = bank.get("precision")
    assert bank.issues == [] and item.prompt.startswith("TP = {{ cm.tp }}")
    assert item.variant is None and not item.varies and "varies" not in item.public()


def test_loading_a_static_bank_never_imports_jinja(tmp_path: Path) -> None:
    folder = bank_of(tmp_path, precision=PRECISION)
    (folder / "precision.yaml").unlink()
    write(
        folder,
        "numeric-static",
        "schema_version: 1\nid: numeric-static\nkind: numeric\n"
        "title: T\nprompt: '{{ x }}'\ndifficulty: easy\nanswer: 1\n"
        "tolerance: {absolute: 0.1}\nexplanation: E\n",
    )
    probe = (
        "import sys; from pathlib import Path; from grader.bank import load_bank; "
        f"b = load_bank([Path({str(folder)!r})]); assert not b.issues, b.issues; "
        "print('jinja2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


# ---- the bank's variants ----------------------------------------------------------------------


def test_the_bank_holds_seed_0_and_renders_other_seeds(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, precision=PRECISION)])
    item = bank.get("precision")
    assert item.varies and item.variant is not None and item.variant.seed == 0
    assert item.public()["varies"] is True and item.public()["seed"] == 0
    prompts = {bank.variant("precision", seed).prompt for seed in range(10)}
    assert len(prompts) > 5
    again = bank.variant("precision", 7)
    assert again == bank.variant("precision", 7) and again.public()["seed"] == 7
    assert bank.variant("old-precision", 7) == again  # a plain alias varies like the item
    assert bank.variant("precision", None) is item


def test_a_fixed_alias_is_exactly_its_values_whatever_the_seed(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, precision=PRECISION)])
    fixed = bank.get("precision-85-15")
    assert isinstance(fixed, NumericItem) and fixed.id == "precision"
    assert fixed.answer == 0.85 and fixed.prompt.startswith("TP = 85, FP = 15.")
    assert not fixed.varies and fixed.variant is not None and fixed.variant.seed is None
    assert fixed.variant.values == {"cm": {"tp": 85, "fp": 15, "fn": 10, "tn": 90, "total": 200}}
    assert all(bank.variant("precision-85-15", seed) is fixed for seed in (None, 0, 5, 2**31))
    assert "varies" not in fixed.public()


def test_a_fixed_alias_must_give_every_param(tmp_path: Path) -> None:
    text = PRECISION.replace("{cm: {tp: 85, fp: 15, fn: 10, tn: 90}}", "{cm: {tp: 85, fp: 15}}")
    issue = only_issue(bank_of(tmp_path, precision=text))
    assert issue.field == "aliases.1.params.cm" and "{tp:, fp:, fn:, tn:}" in issue.message


def test_a_fixed_variant_that_breaks_the_item_names_the_alias(tmp_path: Path) -> None:
    text = PRECISION.replace("tp: 85, fp: 15", "tp: 0, fp: 0")  # 0 / 0
    issue = only_issue(bank_of(tmp_path, precision=text))
    assert issue.field == "answer" and "fixed variant 'precision-85-15'" in issue.message


def test_an_unknown_id_is_unknown_to_variant_too(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, precision=PRECISION)])
    with pytest.raises(UnknownQuestion):
        bank.variant("no-such-item", 3)


def test_an_item_that_does_not_vary_is_every_variant(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, precision=PRECISION.replace("id: precision", "id: p"))])
    assert [issue.field for issue in bank.issues] == ["id"]  # the file name check still holds
    bank = load_bank(
        [
            bank_of(
                tmp_path / "other",
                static=SHUFFLED.replace("shuffle: true\n", "")
                .replace(", fixed: true", "")
                .replace("id: frozen", "id: static"),
            )
        ]
    )
    assert bank.issues == []
    assert bank.variant("static", 9) is bank.get("static")


# ---- shuffled options -------------------------------------------------------------------------


def test_shuffling_keeps_fixed_options_and_moves_the_key_with_its_option(tmp_path: Path) -> None:
    bank = load_bank([bank_of(tmp_path, frozen=SHUFFLED)])
    assert bank.issues == []
    orders = set()
    for seed in range(30):
        item = bank.variant("frozen", seed)
        assert isinstance(item, McqItem) and item.variant is not None
        texts = [choice.text for choice in item.choices]
        orders.add(tuple(texts))
        assert texts[3] == "None of the above"
        key = "ABCD".index(item.answer or "")
        assert texts[key] == "Only the new head" and item.verify is not None
        assert item.verify.proves == item.answer
        assert item.variant.choices == [choice.id for choice in item.choices]
        assert order("frozen", seed, item.choices) == order("frozen", seed, item.choices)
    assert len(orders) > 3


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (("id: first-block", "id: new-head"), "choices.2.id", "also choice B's"),
        (("shuffle: true\n", ""), "choices.3.fixed", "add `shuffle: true`"),
        (("No., id: all-layers}", "No., id: all-layers, fixed: true}"), "shuffle", "two options"),
    ],
    ids=["repeated-id", "fixed-without-shuffle", "nothing-moves"],
)
def test_choice_ids_and_fixed_are_checked(
    tmp_path: Path, change: tuple[str, str], field: str, says: str
) -> None:
    text = SHUFFLED.replace(*change)
    if field == "shuffle":
        text = text.replace("Right., id: new-head}", "Right., id: new-head, fixed: true}")
        text = text.replace("No., id: first-block}", "No., id: first-block, fixed: true}")
    issue = only_issue(bank_of(tmp_path, frozen=text))
    assert issue.field == field and says in issue.message
