"""Variants (issue 17) past loading: the report says which variant it graded, a cached item
renders as the parsed one, the seeds are per student and per machine, and a student bank keeps
the template without its keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from grader.bank import Bank, load_bank, load_item
from grader.bank.export import export_student_bank
from grader.bank_cache import ItemCache
from grader.grading.grader import Grader
from grader.models import McqItem, NumericItem
from grader.variants.seeds import SEED_SPACE, course_seed, local_seed
from tests.grader.test_variants import PRECISION, SHUFFLED, bank_of

#: Every other generator, so the cache stores each spec (`int` and `float` are aliases).
STEPS = (
    PRECISION.replace("id: precision", "id: steps")  # the fixed alias too: steps-85-15
    .replace(
        "  cm: {confusion: {total: [100, 300]}}",
        """\
  cm: {confusion: {total: [100, 300]}}
  k: {int: [1, 9], step: 2}
  lr: {float: [0.1, 0.9], step: 0.1}
  dims: {shape: [[1, 4], [2, 2]]}
  side: {image_size: [64, 256]}
  n: {class_count: [2, 5]}""",
    )
    .replace("Precision, to 3", "k={{ k }} lr={{ lr }} {{ dims }} {{ side }} n={{ n }}; to 3")
    .replace(
        "{cm: {tp: 85, fp: 15, fn: 10, tn: 90}}",
        "{cm: {tp: 8, fp: 2, fn: 1, tn: 9}, k: 1, lr: 0.5, dims: [1, 2], side: 64, n: 2}",
    )
    .replace("old-precision", "old-steps")
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return bank_of(tmp_path, precision=PRECISION, frozen=SHUFFLED, steps=STEPS)


# ---- reports ----------------------------------------------------------------------------------


def test_a_numeric_variant_is_graded_on_its_own_key(folder: Path) -> None:
    bank = load_bank([folder])
    item = bank.variant("precision", 11)
    assert isinstance(item, NumericItem) and item.answer is not None and item.variant
    report = Grader(bank).grade(item, str(item.answer))
    assert report.passed and report.variant is not None
    assert (report.variant.seed, report.variant.values) == (11, item.variant.values)
    assert report.variant.choices is None
    other = bank.variant("precision", 12)
    assert isinstance(other, NumericItem) and other.answer != item.answer
    assert not Grader(bank).grade(other, str(item.answer)).passed


def test_a_fixed_variant_report_has_no_seed(folder: Path) -> None:
    bank = load_bank([folder])
    report = Grader(bank).grade("precision-85-15", "0.85")
    assert report.passed and report.variant is not None and report.variant.seed is None
    assert report.variant.values["cm"]["tp"] == 85


def test_a_static_item_report_has_no_variant(tmp_path: Path) -> None:
    from tests.grader.items import small_bank

    bank = load_bank([small_bank(tmp_path)])
    report = Grader(bank).grade("resnet-head", "B")
    assert report.passed and report.variant is None
    assert not report.checks[0].message.startswith("You chose")


def test_a_shuffled_mcq_report_names_the_option_chosen(folder: Path) -> None:
    bank = load_bank([folder])
    for seed in range(8):
        item = bank.variant("frozen", seed)
        assert isinstance(item, McqItem) and item.answer and item.variant
        wrong = next(letter for letter in item.letters if letter != item.answer)
        chosen_id = item.variant.choices[item.letters.index(wrong)]  # type: ignore[index]
        report = Grader(bank).grade(item, wrong.lower())
        check = report.checks[0]
        assert not report.passed and (check.observed, check.expected) == (wrong, item.answer)
        assert check.message.startswith(f"You chose {wrong} (option id: {chosen_id}). ")
        assert report.variant is not None and report.variant.choices == item.variant.choices
        assert Grader(bank).grade(item, item.answer).passed
        assert "new-head" in Grader(bank).grade(item, item.answer).checks[0].message


# ---- the item cache ---------------------------------------------------------------------------


def test_a_cached_varying_item_renders_as_the_parsed_one(folder: Path, tmp_path: Path) -> None:
    cache = ItemCache(tmp_path / "cache")
    for stored, name in enumerate(("precision", "frozen", "steps"), start=1):
        parsed, _ = cache.load(folder / f"{name}.yaml", load_item)
        assert len(list((tmp_path / "cache").glob("*.json"))) == stored
        recalled, _ = cache.load(folder / f"{name}.yaml", lambda path: pytest.fail("parsed"))
        assert recalled is not None and parsed is not None
        assert recalled == parsed and recalled.varies
        assert recalled._source == parsed._source
        alone = Bank(items={name: recalled})
        for seed in (0, 3, 99):
            assert (
                alone.variant(name, seed).public()
                == load_bank([folder]).variant(name, seed).public()
            )


# ---- seeds ------------------------------------------------------------------------------------


def test_course_seeds_differ_per_student_item_attempt_and_secret() -> None:
    base = course_seed(b"s" * 32, "dl-101", "ada", "precision")
    assert base == course_seed(b"s" * 32, "dl-101", "ada", "precision")
    others = [
        course_seed(b"t" * 32, "dl-101", "ada", "precision"),
        course_seed(b"s" * 32, "dl-102", "ada", "precision"),
        course_seed(b"s" * 32, "dl-101", "bob", "precision"),
        course_seed(b"s" * 32, "dl-101", "ada", "recall"),
        course_seed(b"s" * 32, "dl-101", "ada", "precision", attempt=1),
        course_seed(b"s" * 32, "dl-101", "ada", "precision", attempt=2),
    ]
    assert base not in others and len(set(others)) == len(others)
    assert all(0 <= seed < SEED_SPACE for seed in [base, *others])


def test_the_local_seed_is_stable_and_its_secret_private(tmp_path: Path) -> None:
    first = local_seed("precision", tmp_path)
    secret = tmp_path / "variant-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 32
    assert local_seed("precision", tmp_path) == first
    assert local_seed("recall", tmp_path) != first
    assert local_seed("precision", tmp_path / "elsewhere") != first  # another machine's secret
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["variant-secret"]


def test_the_local_seed_follows_grader_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_HOME", str(tmp_path))
    assert local_seed("precision") == local_seed("precision", tmp_path)


# ---- the student bank -------------------------------------------------------------------------


def test_a_student_bank_keeps_the_template_and_no_key(folder: Path, tmp_path: Path) -> None:
    course = load_bank([folder])
    target = tmp_path / "student"
    export_student_bank(course, target)
    text = (target / "precision.yaml").read_text()
    assert "params:" in text and "{{ cm.tp }}" in text and "precision-85-15" in text
    assert "\nanswer:" not in text and "round(3)" not in text and "explanation" not in text
    shuffled = (target / "frozen.yaml").read_text()
    assert "shuffle: true" in shuffled and "fixed: true" in shuffled
    assert "feedback" not in shuffled and "new-head" not in shuffled and "proves" not in shuffled
    student = load_bank([target])
    assert student.issues == []
    for name in ("precision", "frozen", "precision-85-15", "steps", "steps-85-15"):
        for seed in (0, 5, 2**32 - 1):
            assert student.variant(name, seed).public() == course.variant(name, seed).public()
            mine, theirs = student.variant(name, seed).variant, course.variant(name, seed).variant
            assert mine and theirs and (mine.seed, mine.values) == (theirs.seed, theirs.values)
