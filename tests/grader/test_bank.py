"""Every loader error names file:line:column and the field, and loading goes on past bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank, load_item
from grader.errors import BankError, UnknownQuestion
from grader.models import McqItem, NumericItem
from tests.grader.items import MCQ, mcq, numeric, write


def issue_texts(path: Path) -> list[str]:
    item, issues = load_item(path)
    assert item is None and issues
    return [str(issue) for issue in issues]


def test_valid_items_load(tmp_path: Path) -> None:
    item, issues = load_item(mcq(tmp_path))
    assert issues == [] and isinstance(item, McqItem)
    assert item.letters == "ABC" and item.answer == "B" and item.points == 2
    number, _ = load_item(numeric(tmp_path))
    assert isinstance(number, NumericItem) and number.answer == 0.85


BROKEN = [
    ("invalid-yaml", {"title: Which": "title: [Which"}, ":5:9:", "invalid YAML"),
    ("tab", {"  - text: model.fc": "\t- text: model.fc"}, ":13:1:", "tab character"),
    ("duplicate-key", {"points: 2": "points: 2\npoints: 3"}, ":9:", "duplicate key"),
    ("unknown-field", {"points: 2": "pionts: 2"}, ":8:", "pionts: unknown field 'pionts'"),
    ("wrong-type", {"points: 2": "points: many"}, ":8:9: points:", "valid number"),
    (
        "nested-unknown",
        {"    feedback: Right,": "    feedbak: Right,"},
        ":14:5: choices.1.feedbak:",
        "choices.1.feedbak: unknown field",
    ),
    ("answer-not-a-choice", {"answer: B": "answer: D"}, ":17:9: answer:", "not one of the choices"),
    (
        "repeated-choice",
        {"text: model.head": "text: 'model.fc '"},
        ":15:11: choices.2.text:",
        "repeats the text of choice B",
    ),
    (
        "id-differs",
        {"id: resnet-head": "id: another-id"},
        ":2:5: id:",
        "differs from the file name",
    ),
    ("no-version", {"schema_version: 1\n": ""}, ":1:1:", "missing schema_version"),
    (
        "new-version",
        {"schema_version: 1": "schema_version: 7"},
        ":1:17: schema_version:",
        "newer than this grader",
    ),
    (
        "old-version",
        {"schema_version: 1": "schema_version: 0"},
        ":1:17: schema_version:",
        "no longer read",
    ),
    ("unknown-kind", {"kind: mcq": "kind: essay"}, ":3:7: kind:", "unknown kind 'essay'"),
    (
        "bad-difficulty",
        {"difficulty: easy": "difficulty: brutal"},
        ":7:13: difficulty:",
        "'easy', 'medium' or 'hard'",
    ),
]


@pytest.mark.parametrize(
    ("replace", "where", "what"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_error_names_file_line_and_field(
    tmp_path: Path, replace: dict[str, str], where: str, what: str
) -> None:
    path = mcq(tmp_path)
    text = path.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    messages = issue_texts(path)
    assert any(m.startswith(f"{path}{where}") and what in m for m in messages), messages


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mcq(tmp_path / "a")
    second = mcq(tmp_path / "b")
    bank = load_bank([tmp_path])
    assert len(bank.items) == 1
    [issue] = bank.issues
    assert str(issue).startswith(f"{second}:2:5: id: duplicate id 'resnet-head'")


def test_validate_reports_every_file(tmp_path: Path) -> None:
    write(tmp_path, "one", "schema_version: 1\nid: [\n")
    write(tmp_path, "two", MCQ.format(id="two").replace("answer: B", "answer: H"))
    mcq(tmp_path, "fine")
    bank = load_bank([tmp_path])
    assert sorted(bank.items) == ["fine"]
    assert {Path(i.file).stem for i in bank.issues} == {"one", "two"}


def test_get_unknown_and_broken(tmp_path: Path) -> None:
    write(tmp_path, "broken", "schema_version: 1\nid: broken\nkind: quiz\n")
    bank = load_bank([tmp_path])
    with pytest.raises(UnknownQuestion, match="unknown question id 'nope'"):
        bank.get("nope")
    with pytest.raises(BankError, match="broken.yaml:3:7"):
        bank.get("broken")


def test_public_view_hides_key_feedback_explanation(tmp_path: Path) -> None:
    item, _ = load_item(mcq(tmp_path))
    assert item is not None
    view = item.public()
    flat = repr(view)
    assert "answer" not in view and "explanation" not in view
    assert "feedback" not in flat and "ResNets end with" not in flat
    assert [c["letter"] for c in view["choices"]] == ["A", "B", "C"]
