"""`grader bank export --student`: the exported tree holds no secret of the course bank, loads
with the same `grader`, refuses `answer` with the `grader submit` line, and `check` runs the public
checks with the note that the grade comes from the course server.

"No secret" is proven by search, not by reading the export code: every key, accepted range,
feedback, explanation, verify snippet, dropped check and the text of every file under solutions/
is looked for in the raw bytes of every exported file and in every string the exported YAML
decodes to (so quoting or block indentation cannot hide a leak).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from grader.bank import load_bank
from grader.cli.app import main
from grader.models import Check, CodeItem, Item, McqItem, NumericItem, PredictItem
from grader.variants.templates import render_document, render_text
from sandbox.settings import REPO_ROOT
from tests.grader.items import mcq, write

QUESTIONS = REPO_ROOT / "questions"
SOLUTIONS = REPO_ROOT / "solutions"
BANK = load_bank([QUESTIONS])
#: A line this long is telling: short lines (`return model`) are common to any code.
TELLING = 40
MCQ_ID = "finetuning-purpose"
CODE_ID = "replace-head-5-classes"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real bank exported through the CLI, once for the module."""
    target = tmp_path_factory.mktemp("student") / "bank"
    code = main(["--bank", str(QUESTIONS), "bank", "export", "--student", str(target)])
    assert code == 0
    return target


@pytest.fixture(scope="module")
def haystack(exported: Path) -> tuple[bytes, str]:
    """Every exported file's bytes, and every string (key or value) its YAML decodes to."""
    files = [path for path in sorted(exported.rglob("*")) if path.is_file()]
    raw = b"\0".join(path.read_bytes() for path in files)
    yaml = YAML(typ="safe")
    decoded = [s for p in files if p.suffix == ".yaml" for s in strings(yaml.load(p.read_text()))]
    return raw, "\0".join(decoded)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif value is not None:
        yield str(value)


def is_public(check: Check) -> bool:
    """The issue's rule, written here again so the test does not trust the export's."""
    return not check.hidden and not check.uses_reference() and check.expect.accuracy is None


def public_text(item: Item) -> str:
    """What a student has anyway: the public view, and the kept checks' hints and code (of an
    item that varies, in its template too: the student bank holds the template)."""
    kept = [c for c in getattr(item, "checks", []) if is_public(c)]
    parts = [*strings(item.public()), *(s for c in kept for s in strings(c.model_dump()))]
    return "\n".join(parts + list(strings(template_public(item))))


def template_public(item: Item) -> list[Any]:
    """The template's fields behind the public view and the kept checks (none if static)."""
    source = item._source or {}
    fields = [source.get(key) for key in item.public() if key not in ("choices", "checks")]
    fields += [choice["text"] for choice in source.get("choices", [])]
    checks = zip(source.get("checks", []), getattr(item, "checks", []), strict=False)
    return fields + [template for template, check in checks if is_public(check)]


def needles(text: str, besides: str) -> list[str]:
    """The whole text, and each telling line of it that is not public material already."""
    found = [text.strip()] if text.strip() and text.strip() not in besides else []
    found += [
        line.strip()
        for line in text.splitlines()
        if len(line.strip()) >= TELLING and line.strip() not in besides
    ]
    return found


def yaml_line(item: Item, key: str) -> str:
    """`key: value` exactly as the item's file writes it (the key as a grep would find it)."""
    text = BANK.paths[item.id].read_text(encoding="utf-8")
    match = re.search(rf"^{key}:.*$", text, re.MULTILINE)
    assert match, (item.id, key)
    return match.group(0).strip()


def item_secrets(item: Item) -> Iterator[tuple[str, str]]:
    """(what, text) for every secret of one course item."""
    public = PUBLIC
    for text in needles(item.explanation or "", public):
        yield f"{item.id}: explanation", text
    if isinstance(item, McqItem):
        yield f"{item.id}: key", yaml_line(item, "answer")
        for choice in item.choices:
            for text in needles(choice.feedback or "", public):
                yield f"{item.id}: feedback", text
        if item.verify:
            for text in needles(item.verify.snippet + "\n" + (item.verify.output or ""), public):
                yield f"{item.id}: verify", text
    if isinstance(item, NumericItem):
        yield f"{item.id}: key", yaml_line(item, "answer")
        tolerance = item.tolerance
        assert tolerance is not None and item.answer is not None
        margin = tolerance.absolute
        allowed = f"±{margin:g}" if margin is not None else f"±{(tolerance.relative or 0):.2%}"
        yield f"{item.id}: accepted range", f"{item.answer:g} {allowed}"
    if isinstance(item, CodeItem):
        for check in item.checks:
            if not is_public(check):
                yield from dropped_check(item, check, public)


def dropped_check(item: CodeItem, check: Check, public: str) -> Iterator[tuple[str, str]]:
    """A hidden, reference or held-out check: its words and code (its name and expectation are
    searched for in its own item, `test_no_dropped_check`)."""
    what = f"{item.id}: check {check.name}"
    for text in [check.message, check.eval or "", check.exec or "", check.hint or ""]:
        for needle in needles(text, public):
            yield what, needle
    if check.call:
        for value in strings(check.call.model_dump()):
            if len(value) >= TELLING and value not in public:
                yield what, value


def solution_secrets() -> Iterator[tuple[str, str]]:
    """The text of every file under solutions/, whole and line by line, less the lines the bank
    hands students anyway (a starter's line the reference keeps, a snippet's idiom) and the
    expect.yaml schema (`grader schema --expect`: made from the code, no secret)."""
    files = (p for p in SOLUTIONS.rglob("*") if p.is_file() and p.suffixes != [".schema", ".json"])
    for path in sorted(files):
        for text in needles(path.read_text(encoding="utf-8"), PUBLIC):
            yield str(path.relative_to(REPO_ROOT)), text


#: Everything any item shows students: a line found here is no secret wherever else it is.
PUBLIC = "\n".join(public_text(item) for item in BANK.items.values())
SECRETS = [s for item in BANK.items.values() for s in item_secrets(item)] + list(solution_secrets())


def test_every_kind_of_secret_is_searched() -> None:
    """The search covers what the issue names, so an empty list cannot pass by accident."""
    kinds = {what.split(": ", 1)[-1].split(" ")[0] for what, _ in SECRETS}
    assert {"explanation", "key", "feedback", "verify", "accepted", "check"} <= kinds
    assert sum(what.startswith("solutions/") for what, _ in SECRETS) > 100
    assert len(list(SOLUTIONS.rglob("reference.py"))) == 10


def test_the_export_holds_no_secret(haystack: tuple[bytes, str]) -> None:
    raw, decoded = haystack
    leaks = [(what, text[:80]) for what, text in SECRETS if text.encode() in raw or text in decoded]
    assert leaks == []


def test_no_dropped_check(exported: Path) -> None:
    """No exported check is a dropped one (by name), is hidden, or expects what only the server
    has (the reference run's values, held-out labels) or what a dropped check expects."""
    yaml = YAML(typ="safe")
    for item in BANK.items.values():
        if not isinstance(item, CodeItem):
            continue
        text = (exported / BANK.paths[item.id].relative_to(QUESTIONS)).read_text()
        document = yaml.load(text)
        names = {c.name for c in item.checks if not is_public(c)}
        assert not names & {c["name"] for c in document["checks"]}, item.id
        assert not [name for name in names if f"name: {name}\n" in text], item.id
        kept = [c.expect.model_dump(mode="json") for c in item.checks if is_public(c)]
        dropped = [c.expect.model_dump(mode="json") for c in item.checks if not is_public(c)]
        for check in document["checks"]:
            expect = check["expect"]
            assert "hidden" not in check and "accuracy" not in expect, (item.id, check)
            assert "reference" not in json.dumps(expect), (item.id, check)
            if item.variant is not None:  # a template: as the variant of seed 0 reads it
                check = render_document(check, item.variant.values)
            shown = Check.model_validate(check).expect.model_dump(mode="json")
            assert shown not in dropped or shown in kept, (item.id, check)


def test_items_are_student_items_without_keys(exported: Path) -> None:
    student = load_bank([exported])
    assert student.issues == [] and set(student.items) == set(BANK.items)
    for item_id, item in student.items.items():
        course = BANK.items[item_id]
        assert item.student and item.explanation is None, item_id
        assert item.public() == course.public() or isinstance(item, CodeItem), item_id
        if isinstance(item, McqItem):
            assert item.answer is None and item.verify is None
            assert all(choice.feedback is None for choice in item.choices)
        if isinstance(item, NumericItem):
            assert item.answer is None and item.tolerance is None
        if isinstance(item, CodeItem):
            assert isinstance(course, CodeItem)
            assert item.checks == [c for c in course.checks if is_public(c)]
            assert (item.starter, item.contract, item.data) == (
                course.starter,
                course.contract,
                [name for name in course.data if name not in course.held_out],
            )
        if isinstance(item, PredictItem):
            assert isinstance(course, PredictItem) and item.snippet == course.snippet


def test_the_tree_is_items_data_schema_and_readme(exported: Path) -> None:
    files = {p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file()}
    items = {p.relative_to(QUESTIONS).as_posix() for p in BANK.paths.values()}
    data = {
        f"data/{name}"
        for i in BANK.items.values()
        if isinstance(i, CodeItem)
        for name in i.data
        if name not in i.held_out
    }
    held_out = {
        f"data/{n}" for i in BANK.items.values() if isinstance(i, CodeItem) for n in i.held_out
    }
    assert held_out, "the bank holds held-out inputs (finetune-head's heldout.pt)"
    assert files == items | data | {"question.schema.json", "README.md"}
    assert not files & held_out
    schema = (exported / "question.schema.json").read_text()
    assert schema == (QUESTIONS / "question.schema.json").read_text()
    for name in data:
        assert (exported / name).read_bytes() == (QUESTIONS / name).read_bytes()
    predict = next(i for i in BANK.items.values() if isinstance(i, PredictItem))
    note = (exported / BANK.paths[predict.id].relative_to(QUESTIONS)).read_text()
    assert "the course server computes it by running the snippet" in note


def test_the_export_validates(capsys: pytest.CaptureFixture[str], exported: Path) -> None:
    assert main(["--bank", str(exported), "validate"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("item_id", "answer"),
    [
        (MCQ_ID, "A"),
        ("f1-tp85-fp15-fn10", "0.872"),
        ("predict-resize-shorter-side", "(3, 256, 341)"),
    ],
    ids=["mcq", "numeric", "predict"],
)
def test_answer_says_to_submit(
    capsys: pytest.CaptureFixture[str], exported: Path, item_id: str, answer: str
) -> None:
    assert main(["--bank", str(exported), "answer", item_id, answer]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "course server" in lines[0]
    assert f"`grader submit {item_id} --choice {shlex.quote(answer)}`" in lines[0]


def test_show_says_to_submit(capsys: pytest.CaptureFixture[str], exported: Path) -> None:
    assert main(["--bank", str(exported), "show", MCQ_ID]) == 0
    out = capsys.readouterr().out
    assert f"grader submit {MCQ_ID} --choice LETTER" in out and "grader answer" not in out


@pytest.mark.torch
@pytest.mark.slow
def test_check_runs_the_public_checks(
    capsys: pytest.CaptureFixture[str], exported: Path, tmp_path: Path
) -> None:
    """The reference of the variant of seed 0 (its solution is a template) passes them."""
    course = BANK.items[CODE_ID]
    assert course.variant is not None
    reference = tmp_path / "reference.py"
    template = (SOLUTIONS / CODE_ID / "reference.py").read_text(encoding="utf-8")
    reference.write_text(render_text(template, course.variant.values), encoding="utf-8")
    argv = ["--bank", str(exported), "check", CODE_ID, str(reference), "--backend", "process"]
    argv += ["--seed", "0"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert isinstance(course, CodeItem)
    assert [c["name"] for c in report["checks"]] == [c.name for c in course.checks if is_public(c)]
    assert report["status"] == "passed" and report["explanation"] is None
    assert report["message"].startswith("Public checks only: your grade comes from the course")


# ---- a small bank: what the export refuses, and what never travels ----------------------------

CODE = """\
schema_version: 1
id: {id}
kind: code
title: Return two
prompt: Write `two()`.
difficulty: easy
starter: "def two():\\n    return 0\\n"
contract: [{{name: two, signature: "two() -> int"}}]
{data}checks:
  - name: returns-two
    {hidden}message: two() is 2.
    eval: two()
    expect: {{value: 2}}
explanation: Return 2.
"""


def code(folder: Path, item_id: str, hidden: bool = False, data: str = "") -> Path:
    text = CODE.format(id=item_id, hidden="hidden: true\n    " if hidden else "", data=data)
    return write(folder, item_id, text)


def export(capsys: pytest.CaptureFixture[str], bank: Path, target: Path) -> tuple[int, str]:
    code = main(["--bank", str(bank), "bank", "export", "--student", str(target)])
    return code, capsys.readouterr().err


def test_comments_never_travel(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    path = mcq(bank)
    path.write_text("# the key is B, see the explanation\n" + path.read_text())
    assert export(capsys, bank, tmp_path / "out") == (0, "")
    assert "the key is B" not in (tmp_path / "out" / path.name).read_text()


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda b: code(b, "all-hidden", hidden=True), "at least one public check"),
        (lambda b: code(b, "escapes", data="data: [../../secret.txt]\n"), "outside"),
        (lambda b: (b / "broken.yaml").write_text("schema_version: 1\nid: broken\n"), "kind"),
    ],
    ids=["no-public-check", "data-outside-data", "broken-bank"],
)
def test_refused_banks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, setup: Any, needle: str
) -> None:
    bank = tmp_path / "bank"
    (bank / "data").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("not for students")
    setup(bank)
    got, err = export(capsys, bank, tmp_path / "out")
    assert got == 2 and err.startswith("error: ") and needle in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["inside", "not-empty"])
def test_refused_targets(capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    mcq(bank)
    target = bank / "student" if where == "inside" else tmp_path / "out"
    if where == "not-empty":
        target.mkdir()
        (target / "old.txt").write_text("x")
    got, err = export(capsys, bank, target)
    assert got == 2 and err.count("\n") == 1 and err.startswith("error: "), err


def test_a_course_item_still_needs_its_keys(tmp_path: Path) -> None:
    """`student` relaxes the keys for exported items only: a course item without them fails."""
    mcq(tmp_path, **{"answer: B\n": "", "    feedback: That is MobileNetV2's head.\n": ""})
    issues = [str(issue) for issue in load_bank([tmp_path]).issues]
    assert any("answer: missing required field 'answer'" in i for i in issues), issues
    assert any("choice A has no feedback" in i for i in issues), issues
