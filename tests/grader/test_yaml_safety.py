"""Hostile YAML in the bank: each file is refused at its line before anything is built from it,
`grader validate` exits 2 (never 3), and every other command goes on with the valid items.

The files are of the shapes issue 16 measured: a "billion laughs" of nested aliases (82 s and
4.2 GB in `grader validate` before), flow nesting 50 000 deep and a 100 000-digit integer (exit 3
before), `1e999999` points (accepted as infinity, reports with `score: null`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank, load_item
from grader.bank.screen import MAX_DEPTH
from grader.bank.solutions import read_solution_set
from grader.cli.app import main
from grader.courses.catalog import load_catalog
from tests.grader.items import MCQ, MEAN_OF_HEAD, NUMERIC, mcq, write

#: The classic "billion laughs": nine levels of nine aliases each, 9**9 strings once expanded.
LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
HEADER = "schema_version: 1\nid: {id}\nkind: mcq\n"

HOSTILE = [
    ("billion-laughs", LAUGHS, ":1:4:", "anchors and aliases are not allowed"),
    (
        "one-alias",
        MCQ.format(id="one-alias").replace("title: Which", "title: &t Which") + "prompt2: *t\n",
        ":4:8:",
        "(the anchor 't' and 1 more in this file)",
    ),
    # The mapping is the first level: the bracket past MAX_DEPTH is the MAX_DEPTH-th one.
    ("deep-flow", "x: " + "[" * 50_000 + "]" * 50_000 + "\n", f":1:{3 + MAX_DEPTH}:", "nested"),
    # The first sequence is indentless (no level of its own): the 65th line's is past MAX_DEPTH.
    ("deep-block", "x:\n" + "".join("  " * i + "- \n" for i in range(200)), ":66:129:", "nested"),
    (
        "huge-integer",
        HEADER.format(id="huge-integer") + "points: " + "9" * 100_000 + "\n",
        ":4:9:",
        "an integer of 100000 characters",
    ),  # fmt: skip
    (
        "bad-date",
        HEADER.format(id="bad-date") + "title: 2026-13-01\n",
        ":1:1:",
        "YAML the bank cannot read: ValueError: month must be in 1..12",
    ),  # fmt: skip
    (
        "tagged-huge-integer",
        HEADER.format(id="tagged-huge-integer") + 'points: !!int "' + "9" * 5_000 + '"\n',
        ":4:9:",
        "YAML tags (!!int) are not allowed in the bank",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("name", "text", "where", "what"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_yaml_is_one_located_issue(
    tmp_path: Path, name: str, text: str, where: str, what: str
) -> None:
    path = write(tmp_path, name, text)
    item, issues = load_item(path)
    assert item is None and len(issues) == 1, issues
    assert str(issues[0]).startswith(f"{path}{where}") and what in str(issues[0]), issues


def hostile_bank(folder: Path) -> Path:
    folder.mkdir()
    for name, text, _, _ in HOSTILE:
        write(folder, name, text)
    write(folder, "infinite-points", MCQ.format(id="infinite-points").replace("2", "1e999999", 1))
    mcq(folder, "fine")
    return folder


def test_validate_exits_2_and_the_other_commands_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = str(hostile_bank(tmp_path / "bank"))
    assert main(["--bank", bank, "validate"]) == 2
    out, err = capsys.readouterr()
    assert f"{len(HOSTILE) + 2} file(s), 1 valid item(s)" in out
    assert err.count("error: ") == len(HOSTILE) + 1 and "Traceback" not in err
    assert main(["--bank", bank, "list"]) == 0
    assert "fine" in capsys.readouterr().out
    assert main(["--bank", bank, "show", "billion-laughs"]) == 2
    assert "anchors and aliases" in capsys.readouterr().err
    assert main(["--bank", bank, "answer", "fine", "B"]) == 0


# ---- no number an author writes may be infinite or NaN ----------------------------------------

CODE = (
    MEAN_OF_HEAD
    + """\
contract: [{{name: mean_of, signature: "mean_of(values) -> float"}}]
limits: {{wall_s: 10}}
checks:
  - name: simple
    points: 2
    message: mean_of([1, 2, 3]) is 2.
    call: {{function: mean_of, args: [[1, 2, 3]]}}
    expect: {{value: 2.0, tolerance: {{absolute: 0.001}}}}
"""
)

NOT_FINITE = [
    ("item-points", MCQ, "points: 2", "points: 1e999999", ":8:9: points:"),
    ("numeric-answer", NUMERIC, "answer: 0.85", "answer: .nan", ":7:9: answer:"),
    ("tolerance", NUMERIC, "absolute: 0.0005", "absolute: .inf", ":9:13: tolerance.absolute:"),
    ("check-points", CODE, "points: 2", "points: .inf", ":13:13: checks.0.points:"),
    ("wall-clock", CODE, "wall_s: 10", "wall_s: .nan", ":10:18: limits.wall_s:"),
    ("expected-value", CODE, "value: 2.0", "value: -.inf", ":16:21: checks.0.expect.value:"),
]


@pytest.mark.parametrize(
    ("template", "old", "new", "where"),
    [n[1:] for n in NOT_FINITE],
    ids=[n[0] for n in NOT_FINITE],
)
def test_no_number_is_infinite_or_nan(
    tmp_path: Path, template: str, old: str, new: str, where: str
) -> None:
    text = template.format(id="item")
    assert old in text
    path = write(tmp_path, "item", text.replace(old, new, 1))
    item, issues = load_item(path)
    assert item is None, item
    assert any(str(i).startswith(f"{path}{where}") and "finite" in str(i) for i in issues), issues


ASSIGNMENT = """\
schema_version: 1
id: quiz
title: Quiz
course: c
opens: 2026-12-01T09:00:00+01:00
due: 2026-12-08T09:00:00+01:00
late: {accept: with_penalty, penalty: 0.1}
items:
  - {id: fine, points: 2}
"""


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("points: 2", "points: .inf", ":9:24: items.0.points:"),
        ("penalty: 0.1", "penalty: .nan", ":7:39: late.penalty:"),
        ("title: Quiz", "title: &q Quiz", ":3:8:"),
    ],
    ids=["points", "penalty", "anchor"],
)
def test_assignments_refuse_them_too(tmp_path: Path, old: str, new: str, where: str) -> None:
    bank = load_bank([mcq(tmp_path, "fine").parent])
    folder = tmp_path / "assignments"
    folder.mkdir()
    (folder / "quiz.yaml").write_text(ASSIGNMENT.replace(old, new))
    catalog = load_catalog(folder, bank)
    assert not catalog.assignments
    [issue] = catalog.issues
    assert str(issue).startswith(f"{folder / 'quiz.yaml'}{where}"), issue


def test_expect_yaml_is_read_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "expect.yaml"
    path.write_text("reference: &r reference.py\nwrong: []\nagain: *r\n")
    cases, _, issues = read_solution_set(path)
    assert cases is None and "anchors and aliases" in str(issues[0])
    path.write_text("schema_version: .inf\n")
    cases, _, issues = read_solution_set(path)
    assert cases is None and str(issues[0]).startswith(f"{path}:1:17: schema_version:")
