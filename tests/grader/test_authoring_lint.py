"""Authoring mistakes caught by `grader validate`, at their line, instead of later as "the
reference failed" (issue 16): typos in closed words, Python that does not compile, item points
that disagree with the checks', aliases that collide, a solutions folder that does not match its
item; and the self-test's own part: `verify` names the choice it proves, rows stream."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.bank import Bank, load_bank, load_item
from grader.bank.solutions import solution_issues
from grader.cli.app import main
from grader.courses.catalog import load_catalog
from grader.errors import BankError, UnknownQuestion
from grader.grading import Grader
from grader.models import CodeItem
from grader.models.expect import expect_json_schema
from grader.models.vocabulary import MODELS, TAGS
from grader.ops.selftest import Table, plan, selftest
from grader.settings import GraderSettings
from sandbox.fake import FakeSandbox
from sandbox.settings import REPO_ROOT, SandboxSettings
from tests.grader.items import MCQ, MEAN_OF_HEAD, mcq, write

CODE = (
    MEAN_OF_HEAD
    + """\
contract: [{{name: mean_of, signature: "mean_of(values) -> float"}}]
limits: {{wall_s: 10}}
checks:
  - name: loads
    message: Your file runs.
    expect: {{no_error: true}}
  - name: simple
    points: 2
    message: mean_of([1, 2, 3]) is 2.
    call: {{function: mean_of, args: [[1, 2, 3]]}}
    expect: {{value: 2.0}}
  - name: secret
    points: 2
    hidden: true
    message: A hidden case.
    call: {{function: mean_of, args: [{{$expr: "result = [10, 20, 60]"}}]}}
    expect: {{value: {{from: reference}}}}
  - name: rounded
    message: The mean of 1 and 2, rounded.
    exec: |
      value = mean_of([1, 2])
      result = round(value, 1)
    expect: {{value: 1.5}}
"""
)
CODE_POINTS = 6

PREDICT = """\
schema_version: 1
id: {id}
kind: predict
title: Shape
prompt: What does it print?
difficulty: easy
explanation: One batch of two.
snippet: |
  print((2, 10))
"""

VERIFIED = MCQ.replace("answer: B\n", "answer: B\nverify:\n  proves: B\n  snippet: |\n"
                       "    print('model.fc')\n  output: model.fc\n")  # fmt: skip


def issues_of(path: Path) -> list[str]:
    item, issues = load_item(path)
    assert item is None and issues, item
    return [str(issue) for issue in issues]


def position(text: str, needle: str, offset: int = 0) -> str:
    """`:line:column:` of `needle` in `text` (plus `offset` columns)."""
    before = text[: text.index(needle)]
    return f":{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10)) + offset}:"


# ---- closed words: from:, $tags, model names ---------------------------------------------------

TYPOS = [
    ("from", "{from: reference}", "{from: referance}", "checks.2.expect.value.from",
     "unknown source 'referance'; did you mean 'reference'?"),
    ("from-in-shape", "expect: {value: 2.0}", "expect: {value: 2.0, shape: {from: referance}}",
     "checks.1.expect.shape", "unknown source 'referance'; did you mean 'reference'?"),
    ("from-nested", "{value: {from: reference}}", "{value: [{from: reference}]}",
     "checks.2.expect.value.0", "`from:` stands for the whole expected value"),
    ("tag", "{$expr:", "{$exrp:", "checks.2.call.args.0.$exrp",
     "unknown input tag '$exrp'; did you mean '$expr'?"),
    ("model", "args: [[1, 2, 3]]", "args: [{$model: resnet81}]", "checks.1.call.args.0.$model",
     "unknown torchvision model 'resnet81'; did you mean 'resnet18'?"),
    ("conforms", "expect: {no_error: true}", "expect: {conforms: {arch: resnet81}}",
     "checks.0.expect.conforms.arch", "unknown torchvision model 'resnet81'; did you mean"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "field", "what"), [t[1:] for t in TYPOS], ids=[t[0] for t in TYPOS]
)
def test_closed_words_suggest_the_right_one(
    tmp_path: Path, old: str, new: str, field: str, what: str
) -> None:
    text = CODE.format(id="mean-of")
    assert old in text
    path = write(tmp_path, "mean-of", text.replace(old, new, 1))
    messages = issues_of(path)
    assert any(f": {field}: {what}" in m for m in messages), messages


def test_every_tag_the_harness_decodes_validates(tmp_path: Path) -> None:
    args = ", ".join(f"{{{tag}: [1]}}" for tag in TAGS if tag not in ("$model", "$expr"))
    text = CODE.format(id="mean-of").replace("args: [[1, 2, 3]]", f"args: [{args}]")
    item, issues = load_item(write(tmp_path, "mean-of", text))
    assert issues == [] and isinstance(item, CodeItem)
    assert {"$tensor", "$zeros", "$randn", "$randint", "$image", "$model", "$expr"} <= set(TAGS)


@pytest.mark.torch
def test_model_names_are_what_the_pinned_torchvision_builds() -> None:
    python = SandboxSettings().runtime / "bin" / "python"
    if not python.exists():
        pytest.skip("no sandbox runtime: run `make runtime`")
    code = "import json, torchvision.models as m; print(json.dumps(m.list_models(module=m)))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, check=True, text=True)
    assert set(json.loads(out.stdout)) == MODELS


# ---- Python compiled at validate time ------------------------------------------------------------

SYNTAX = [
    # (id, template, old, new, the text the error points at, its field)
    ("exec", CODE, "result = round(value, 1)", "result = round(value, 1", "(", "checks.3.exec"),
    ("expr", CODE, '"result = [10, 20, 60]"', '"result = [10, 20, 60"', "[",
     "checks.2.call.args.0.$expr"),
    ("eval", CODE, "call: {function: mean_of, args: [[1, 2, 3]]}", 'eval: "mean_of([1, 2, 3]) +"',
     '"', "checks.1.eval"),
    ("verify", VERIFIED, "print('model.fc')", "print('model.fc'", "(", "verify.snippet"),
    ("predict", PREDICT, "print((2, 10))", "print((2, 10)", "(", "snippet"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "old", "new", "at", "field"), [s[1:] for s in SYNTAX], ids=[s[0] for s in SYNTAX]
)
def test_a_syntax_error_is_an_issue_inside_the_yaml_block(
    tmp_path: Path, template: str, old: str, new: str, at: str, field: str
) -> None:
    text = template.format(id="item").replace("id: resnet-head", "id: item")
    assert old in text
    text = text.replace(old, new, 1)
    [message] = issues_of(write(tmp_path, "item", text))
    assert f": {field}: Python syntax error" in message, message
    line = text[: text.index(new)].count("\n") + 1
    if at == '"':  # the end of a one-line expression: the line is enough
        assert f"item.yaml:{line}:" in message, (message, line)
    else:  # Python names the unclosed bracket itself
        assert f"item.yaml{position(text, new, new.index(at))}" in message, message


# ---- points -------------------------------------------------------------------------------------


def test_code_points_default_to_the_checks_sum(tmp_path: Path) -> None:
    item, issues = load_item(write(tmp_path, "mean-of", CODE.format(id="mean-of")))
    assert issues == [] and isinstance(item, CodeItem) and item.points == CODE_POINTS
    given = CODE.format(id="mean-of").replace("difficulty:", f"points: {CODE_POINTS}\ndifficulty:")
    item, issues = load_item(write(tmp_path, "mean-of", given))
    assert issues == [] and item is not None and item.points == CODE_POINTS


def test_code_points_that_disagree_with_the_checks_are_an_issue(tmp_path: Path) -> None:
    text = CODE.format(id="mean-of").replace("difficulty:", "points: 1\ndifficulty:")
    [message] = issues_of(write(tmp_path, "mean-of", text))
    assert ":6:9: points: points 1 differs from the sum of the checks' points (6)" in message


def test_checks_worth_nothing_are_an_issue(tmp_path: Path) -> None:
    text = CODE.format(id="mean-of").replace("points: 2", "points: 0")
    text = text.replace("    message: Your", "    points: 0\n    message: Your")
    text = text.replace("    message: The mean", "    points: 0\n    message: The mean")
    [message] = issues_of(write(tmp_path, "mean-of", text))
    assert "checks: the checks' points add up to 0" in message


def test_a_student_item_keeps_the_course_points_with_fewer_checks(tmp_path: Path) -> None:
    text = CODE.format(id="mean-of").replace("explanation: Sum divided by count.\n", "")
    text = text.replace("kind: code\n", "kind: code\nstudent: true\npoints: 10\n")
    item, issues = load_item(write(tmp_path, "mean-of", text))
    assert issues == [] and item is not None and item.points == 10


# ---- verify names the choice it proves ----------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where", "what"),
    [
        ("  proves: B\n", "", ":18:1: verify.proves:", "missing required field 'proves'"),
        (
            "proves: B",
            "proves: E",
            ":19:11: verify.proves:",
            "'E', which is not one of the choices",
        ),
    ],
    ids=["missing", "not-a-choice"],
)
def test_verify_must_name_a_choice(
    tmp_path: Path, old: str, new: str, where: str, what: str
) -> None:
    text = VERIFIED.format(id="resnet-head")
    path = write(tmp_path, "resnet-head", text.replace(old, new))
    messages = issues_of(path)
    assert any(m.startswith(f"{path}{where}") and what in m for m in messages), messages


def graded(bank: Bank, tmp_path: Path) -> Grader:
    settings = GraderSettings(bank=bank.root, solutions=tmp_path / "solutions", cache=tmp_path)
    return Grader(bank, FakeSandbox.local(), settings)


def test_selftest_fails_a_verify_that_proves_another_choice(tmp_path: Path) -> None:
    folder = tmp_path / "bank"
    folder.mkdir()
    write(folder, "resnet-head", VERIFIED.format(id="resnet-head"))
    write(folder, "moved-key", VERIFIED.format(id="moved-key").replace("answer: B", "answer: C"))
    bank = load_bank([folder])
    grader = graded(bank, tmp_path)
    rows = list(
        selftest(plan(bank, sorted(bank.items.values(), key=lambda i: i.id), folder), grader)
    )
    by_item = {row.item: row for row in rows}
    assert by_item["resnet-head"].ok, by_item["resnet-head"]
    moved = by_item["moved-key"]
    assert not moved.ok and moved.detail.startswith("key C, but verify proves B")
    sandbox = grader.sandbox
    assert isinstance(sandbox, FakeSandbox) and len(sandbox.requests) == 1  # only the true one ran


# ---- aliases ------------------------------------------------------------------------------------


def test_an_alias_finds_its_item_and_list_shows_only_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mcq(tmp_path, **{"answer: B": "answer: B\naliases: [old-head, older-head]"})
    bank = load_bank([tmp_path])
    assert bank.issues == [] and bank.get("old-head").id == "resnet-head"
    with pytest.raises(UnknownQuestion):
        bank.get("never-was")
    assert main(["--bank", str(tmp_path), "list", "--json"]) == 0
    assert [view["id"] for view in json.loads(capsys.readouterr().out)] == ["resnet-head"]
    assert main(["--bank", str(tmp_path), "answer", "older-head", "B"]) == 0
    assert "resnet-head" in capsys.readouterr().out
    assert main(["--bank", str(tmp_path), "show", "older-head"]) == 0
    assert "model.fc" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("second", "taken", "owner"),
    [("[other]", "the id of", "other"), ("[old]", "already an alias of", "first")],
    ids=["another-id", "another-alias"],
)
def test_a_colliding_alias_is_an_issue(tmp_path: Path, second: str, taken: str, owner: str) -> None:
    mcq(tmp_path, "first", **{"answer: B": "answer: B\naliases: [old]"})
    mcq(tmp_path, "other")
    path = mcq(tmp_path, "second", **{"answer: B": f"answer: B\naliases: {second}"})
    bank = load_bank([tmp_path])
    [issue] = bank.issues
    assert str(issue).startswith(f"{path}:18:")
    assert f"aliases.0: alias {second[1:-1]!r} is {taken} {owner!r}" in str(issue)
    assert bank.get(second[1:-1]).id == owner


def test_an_alias_never_hides_a_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "broken", "schema_version: 1\nid: broken\nkind: quiz\n")
    path = mcq(tmp_path, "first", **{"answer: B": "answer: B\naliases: [broken]"})
    bank = load_bank([tmp_path])
    issues = [str(i) for i in bank.issues]
    assert any(i.startswith(f"{path}:18:") and "file with problems" in i for i in issues), issues
    with pytest.raises(BankError, match="broken.yaml:3:7"):
        bank.get("broken")


def test_an_assignment_names_items_by_their_id(tmp_path: Path) -> None:
    bank = load_bank([mcq(tmp_path, **{"answer: B": "answer: B\naliases: [old-head]"}).parent])
    folder = tmp_path / "assignments"
    folder.mkdir()
    (folder / "quiz.yaml").write_text(
        "schema_version: 1\nid: quiz\ntitle: Quiz\ncourse: c\nopens: 2026-12-01T09:00:00Z\n"
        "due: 2026-12-08T09:00:00Z\nitems:\n  - {id: old-head, points: 1}\n"
    )
    [issue] = load_catalog(folder, bank).issues
    assert ":8:10: items.0.id: item 'old-head' is now 'resnet-head'; list it by its id" in str(
        issue
    )


# ---- solutions/ against the bank ---------------------------------------------------------------

REFERENCE = "def mean_of(values):\n    return sum(values) / len(values)\n"
WRONG = "def mean_of(values):\n    return sum(values)\n"
EXPECT = """\
reference: reference.py
wrong:
  - file: wrong_sum.py
    verdict: WRONG_ANSWER
    failed: [simple, secret, rounded]
"""


def course(root: Path) -> tuple[Path, Path]:
    """A bank with a code item and an mcq, and the code item's solutions folder."""
    bank, solutions = root / "questions", root / "solutions"
    bank.mkdir()
    write(bank, "mean-of", CODE.format(id="mean-of").replace("kind:", "aliases: [mean]\nkind:"))
    mcq(bank)
    folder = solutions / "mean-of"
    folder.mkdir(parents=True)
    (folder / "reference.py").write_text(REFERENCE)
    (folder / "wrong_sum.py").write_text(WRONG)
    (folder / "expect.yaml").write_text(EXPECT)
    return bank, solutions


def edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def change(solutions: Path) -> None:
        path = solutions / "mean-of" / name
        path.write_text(path.read_text().replace(old, new))

    return change


def remove(name: str) -> Callable[[Path], None]:
    return lambda solutions: (solutions / "mean-of" / name).unlink()


def add(name: str) -> Callable[[Path], None]:
    def create(solutions: Path) -> None:
        (solutions / name).parent.mkdir(parents=True, exist_ok=True)
        (solutions / name).write_text(WRONG)

    return create


SOLUTION_PROBLEMS = [
    ("no-expect", remove("expect.yaml"), "mean-of.yaml:2:5: id: no ",
     "expect.yaml; every code item"),
    ("no-reference", remove("reference.py"), "expect.yaml:1:12: reference: no ", "reference.py"),
    ("undeclared", add("mean-of/wrong_other.py"), "expect.yaml:2:1: wrong: ",
     "wrong_other.py is not declared"),
    ("declared-missing", remove("wrong_sum.py"), "expect.yaml:3:11: wrong.0.file: no ",
     "wrong_sum.py; add it or remove this entry"),
    ("unknown-check", edit("expect.yaml", "rounded]", "roundd]"),
     "expect.yaml:5:30: wrong.0.failed.2: ", "unknown check 'roundd'; did you mean 'rounded'?"),
    ("bad-verdict", edit("expect.yaml", "WRONG_ANSWER", "PASSED"),
     "expect.yaml:4:14: wrong.0.verdict:", "a wrong solution's verdict is one of WRONG_ANSWER"),
    ("unknown-verdict", edit("expect.yaml", "WRONG_ANSWER", "WRONG"),
     "expect.yaml:4:14: wrong.0.verdict:", "input should be"),
    ("unknown-item", add("mean-off/reference.py"), "solutions/mean-off:1:1: ",
     "unknown code item 'mean-off'; did you mean 'mean-of'?"),
    ("not-code", add("resnet-head/reference.py"), "solutions/resnet-head:1:1: ",
     "'resnet-head' is a mcq item; only code items have solutions"),
    ("alias", add("mean/reference.py"), "solutions/mean:1:1: ",
     "item 'mean' is now 'mean-of'; rename the folder"),
    ("anchor", edit("expect.yaml", "reference: reference.py", "reference: &r reference.py"),
     "expect.yaml:1:12: ", "anchors and aliases are not allowed"),
    ("sometimes-fixed", edit("expect.yaml", "rounded]", "]\n    sometimes: [rounded]"),
     "expect.yaml:6:17: wrong.0.sometimes.0: ", "rounded runs on the same inputs every time"),
    ("sometimes-unknown", edit("expect.yaml", "rounded]", "rounded]\n    sometimes: [rnd]"),
     "expect.yaml:6:17: wrong.0.sometimes.0: ", "unknown check 'rnd'"),
    ("sometimes-twice", edit("expect.yaml", "rounded]", "rounded]\n    sometimes: [secret]"),
     "wrong.0.sometimes.0: ", "secret is in both failed and sometimes"),
    ("sometimes-only", edit("expect.yaml", "[simple, secret, rounded]", "[]\n    sometimes: [x]"),
     "wrong.0.failed: ", "name the checks it fails on every run in `failed`"),
    ("sometimes-only-crash", edit("expect.yaml", "WRONG_ANSWER\n    failed: [simple, secret, "
                                  "rounded]", "RUNTIME_ERROR\n    sometimes: [x]"),
     "expect.yaml:3:5: wrong.0.failed: ", "name the checks it fails on every run in `failed`"),
    ("fails-nothing", edit("expect.yaml", "failed: [simple, secret, rounded]", "failed: []"),
     "wrong.0.failed: ", "a wrong answer fails at least one"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [p[1:] for p in SOLUTION_PROBLEMS],
    ids=[p[0] for p in SOLUTION_PROBLEMS],
)
def test_solutions_are_checked_against_the_bank(
    tmp_path: Path, change: Callable[[Path], None], where: str, what: str
) -> None:
    bank_dir, solutions = course(tmp_path)
    bank = load_bank([bank_dir])
    assert bank.issues == [] and solution_issues(bank, solutions) == []
    change(solutions)
    messages = [str(i) for i in solution_issues(bank, solutions)]
    assert len(messages) == 1 and where in messages[0] and what in messages[0], messages


def test_a_sometimes_check_is_one_drawn_per_run(tmp_path: Path) -> None:
    bank_dir, solutions = course(tmp_path)
    path = bank_dir / "mean-of.yaml"
    path.write_text(
        path.read_text().replace('{$expr: "result = [10, 20, 60]"}', "{$randint: [3], high: 9}")
    )
    edit("expect.yaml", "secret, rounded]", "rounded]\n    sometimes: [secret]")(solutions)
    bank = load_bank([bank_dir])
    assert bank.issues == [] and solution_issues(bank, solutions) == []


def checked(*failed: str) -> object:
    """A wrong answer's report that failed these of the checks `simple`, `secret`, `rounded`."""
    from grader.models import CheckResult, Report, Status, Verdict

    names = ("simple", "secret", "rounded")
    checks = [
        CheckResult(name=n, passed=n not in failed, score=0, max_score=1, message="m")
        for n in names
    ]
    wrong = Verdict.WRONG_ANSWER if failed else Verdict.PASSED
    status = Status.FAILED if failed else Status.PASSED
    return Report(
        question="q",
        status=status,
        verdict=wrong,
        score=0,
        max_score=3,
        checks=checks,
        duration_s=0,
        backend="f",
    )


@pytest.mark.parametrize(
    ("failed", "ok"),
    [
        (("simple",), True),  # the draw it passes on
        (("simple", "secret"), True),  # the draw it fails on
        (("simple", "rounded"), False),  # a check declared nowhere
        (("secret",), False),  # `failed` must fail on every run
    ],
)
def test_sometimes_checks_may_fail_or_pass(failed: tuple[str, ...], ok: bool) -> None:
    from grader.models.expect import WrongCase
    from grader.ops.selftest import _as_declared

    case = WrongCase(
        file="wrong_x.py", verdict="WRONG_ANSWER", failed=["simple"], sometimes=["secret"]
    )
    verdict_ok, detail = _as_declared(case, checked(*failed))  # type: ignore[arg-type]
    assert verdict_ok is ok
    assert ("declared WRONG_ANSWER failed=['simple'] sometimes=['secret']" in detail) is not ok


def test_missing_accuracy_labels_are_an_issue(tmp_path: Path) -> None:
    bank_dir, solutions = course(tmp_path)
    text = (bank_dir / "mean-of.yaml").read_text()
    labels = "expect: {accuracy: {labels: labels.json, at_least: 0.9}}"
    (bank_dir / "mean-of.yaml").write_text(text.replace("expect: {value: 1.5}", labels))
    [issue] = solution_issues(load_bank([bank_dir]), solutions)
    assert "labels.json, which check 'rounded' reads as its held-out labels" in str(issue)


def test_validate_checks_the_course_solutions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bank, solutions = course(tmp_path)
    monkeypatch.setenv("GRADER_BANK", str(bank))
    monkeypatch.setenv("GRADER_SOLUTIONS", str(solutions))
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(tmp_path / "assignments"))
    assert main(["validate"]) == 0
    capsys.readouterr()
    (solutions / "mean-of" / "wrong_other.py").write_text(WRONG)
    assert main(["validate"]) == 2
    out, err = capsys.readouterr()
    assert "wrong_other.py is not declared" in err and "1 problem(s)" in out
    assert main(["--bank", str(bank), "validate"]) == 0  # another bank is validated alone
    capsys.readouterr()


def test_selftest_streams_and_fails_a_broken_folder_without_running(tmp_path: Path) -> None:
    bank_dir, solutions = course(tmp_path)
    bank = load_bank([bank_dir])
    grader = graded(bank, tmp_path)
    plans = plan(bank, [bank.get("mean-of")], solutions)
    assert plans[0].cases == ("reference.py", "wrong_sum.py")
    rows = selftest(plans, grader)
    first = next(rows)
    sandbox = grader.sandbox
    assert isinstance(sandbox, FakeSandbox)
    ran = len(sandbox.requests)
    assert first.case == "reference.py" and first.ok, first  # given before the next case runs
    second = next(rows)
    assert second.case == "wrong_sum.py" and second.ok and len(sandbox.requests) > ran, second
    table = Table.of(plans)
    assert table.header().split() == ["item", "case", "ok", "detail"]
    assert table.line(first).startswith("mean-of  reference.py  PASS  PASSED 6/6")
    assert table.summary([first, second]) == "2 case(s), 2 as declared, 0 not"
    (solutions / "mean-of" / "expect.yaml").unlink()
    [broken] = plan(bank, [bank.get("mean-of")], solutions)
    [row] = list(selftest([broken], graded(bank, tmp_path)))
    assert not row.ok and row.case == "solutions" and "expect.yaml; every code item" in row.detail


# ---- schemas ------------------------------------------------------------------------------------


def test_committed_expect_schema_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--expect"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == expect_json_schema()
    committed = json.loads((REPO_ROOT / "solutions" / "expect.schema.json").read_text())
    assert committed == printed, "run `make schema`"


class ScriptedGrader:
    """Gives the scripted verdicts in turn, counting the gradings."""

    def __init__(self, *verdicts: str) -> None:
        self.verdicts = list(verdicts)
        self.calls = 0

    def grade(self, item: object, source: object, draw: int | None = None) -> object:
        from grader.models import Report, Status, Verdict

        self.calls += 1
        verdict = Verdict(self.verdicts.pop(0))
        status = Status.PASSED if verdict is Verdict.PASSED else Status.FAILED
        return Report(
            question="q",
            status=status,
            verdict=verdict,
            score=0,
            max_score=1,
            checks=[],
            duration_s=0,
            backend="fake",
        )


@pytest.mark.parametrize(
    ("script", "declared", "calls", "final", "note"),
    [
        (["TIME_LIMIT", "PASSED"], "PASSED", 2, "PASSED", "the first run got TIME_LIMIT"),
        (["INTERNAL_ERROR", "WRONG_ANSWER"], "WRONG_ANSWER", 2, "WRONG_ANSWER", "INTERNAL_ERROR"),
        (["TIME_LIMIT"], "TIME_LIMIT", 1, "TIME_LIMIT", ""),  # declared: no second run
        (["WRONG_ANSWER"], "PASSED", 1, "WRONG_ANSWER", ""),  # the solution's fault: no retry
    ],
)
def test_a_case_a_busy_host_can_fail_is_graded_once_more(
    script: list[str], declared: str, calls: int, final: str, note: str
) -> None:
    from grader.grading.submission import Source
    from grader.models import Verdict
    from grader.ops.selftest import _grade

    grader = ScriptedGrader(*script)
    report, said = _grade(grader, None, Source("x = 1\n"), Verdict(declared))  # type: ignore[arg-type]
    assert (grader.calls, report.verdict.value) == (calls, final)
    assert (note in said) if note else said == ""


def test_the_summary_names_every_case_not_as_declared() -> None:
    from grader.ops.selftest import Row

    rows = [Row("a", "reference.py", True, "PASSED"), Row("b", "wrong_x.py", False, "TIME_LIMIT")]
    lines = Table.summary(rows).splitlines()
    assert lines == [
        "2 case(s), 1 as declared, 1 not",
        "  not as declared: b wrong_x.py: TIME_LIMIT",
    ]
