"""`grader init` (a student's starter file) and `grader new` (an author's new item)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.grading.submission import read_submission
from grader.models import CodeItem
from grader.ops.selftest import load_solution_set
from grader.variants.seeds import local_seed
from sandbox.settings import SandboxSettings
from tests.grader.items import mcq
from tests.sandbox.test_packages import STANDARD, fake_runtime

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "questions"
CODE_ID = "replace-head-5-classes"
KINDS = ["mcq", "numeric", "predict", "code"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def code_item(item_id: str = CODE_ID) -> CodeItem:
    """The item as `grader init` writes it: a varying item's variant of this machine's seed."""
    item = load_bank([BANK]).variant(item_id, local_seed(item_id))
    assert isinstance(item, CodeItem)
    return item


# ---- grader init ------------------------------------------------------------------------------


def test_init_writes_the_starter_and_says_how_to_check_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--bank", str(BANK), "init", CODE_ID)
    assert (code, err) == (0, "")
    written = (tmp_path / f"{CODE_ID}.py").read_text()
    # The item varies: the starter is the variant `grader show` shows, this machine's.
    assert written.endswith(code_item().starter)
    assert all(line.startswith("#") for line in written.split("\n\n")[0].splitlines())
    assert out.splitlines()[-1] == f"next: grader --bank {BANK} check {CODE_ID} {CODE_ID}.py"


def test_init_writes_the_starter_of_the_seed_asked_for(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--bank", str(BANK), "init", CODE_ID, "--seed", "3")
    assert code == 0
    shown = load_bank([BANK]).variant(CODE_ID, 3)
    assert shown.variant is not None and shown.variant.seed == 3
    classes = shown.variant.values["classes"]
    assert f"outputs {classes} class scores" in (tmp_path / f"{CODE_ID}.py").read_text()
    assert out.splitlines()[-1].endswith(f"check {CODE_ID} {CODE_ID}.py --seed 3")


def test_init_notebook_is_valid_and_holds_the_task_and_the_starter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.ipynb"
    code, out, _ = run(
        capsys, "--bank", str(BANK), "init", CODE_ID, "--notebook", "--output", str(path)
    )
    assert code == 0 and f"check {CODE_ID} {path}" in out
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    task, starter = notebook.cells
    item = code_item()
    assert task.cell_type == "markdown" and item.title in task.source
    assert item.prompt.strip().splitlines()[0] in task.source
    assert all(c.signature in task.source for c in item.contract)
    assert starter.cell_type == "code" and starter.source == item.starter.rstrip("\n")


def test_the_notebook_reads_as_the_same_code_as_the_py(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What `grader check` runs of each: the starter itself (the .py's header is comments)."""
    py, ipynb = tmp_path / "a.py", tmp_path / "a.ipynb"
    assert run(capsys, "--bank", str(BANK), "init", CODE_ID, "--output", str(py))[0] == 0
    assert run(capsys, "--bank", str(BANK), "init", CODE_ID, "--output", str(ipynb))[0] == 0
    from_py, from_nb = read_submission(py).text, read_submission(ipynb).text
    uncommented = [line for line in from_py.splitlines() if not line.startswith("# ")]
    assert "\n".join(uncommented).strip() == from_nb.strip() == code_item().starter.strip()


@pytest.mark.torch
@pytest.mark.slow
def test_the_notebook_grades_as_the_py_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not (SandboxSettings().runtime / "bin" / "python").exists():
        pytest.skip("no sandbox runtime: run `make runtime`")
    reports = []
    for name in ("starter.py", "starter.ipynb"):
        path = tmp_path / name
        assert (
            run(capsys, "--bank", str(BANK), "init", "top1-from-logits", "--output", str(path))[0]
            == 0
        )
        code, out, _ = run(
            capsys, "--bank", str(BANK), "check", "top1-from-logits", str(path), "--json"
        )
        report = json.loads(out)
        reports.append(
            (code, report["verdict"], [(c["name"], c["passed"]) for c in report["checks"]])
        )
    assert reports[0] == reports[1]
    assert reports[0][0] == 1 and reports[0][1] == "WRONG_ANSWER"


def test_init_keeps_an_existing_file_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.py"
    path.write_text("my work\n")
    code, out, err = run(capsys, "--bank", str(BANK), "init", CODE_ID, "--output", str(path))
    assert (code, out) == (2, "")
    assert "exists; pass --force" in one_error_line(err)
    assert path.read_text() == "my work\n"
    assert (
        run(capsys, "--bank", str(BANK), "init", CODE_ID, "--output", str(path), "--force")[0] == 0
    )
    assert path.read_text().endswith(code_item().starter)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["init", "resnet-head"],
            "is an item of kind mcq, with no starter file; answer it with "
            "`grader answer resnet-head LETTER`",
        ),
        (["init", "nope"], "unknown question id 'nope'"),
        (["init", "solo", "--output", "x.txt"], "name it .py or .ipynb"),
        (["init", "solo", "--notebook", "--output", "x.py"], "--notebook writes a notebook"),
    ],
    ids=["not-code", "unknown-id", "bad-suffix", "notebook-named-py"],
)
def test_init_refusals_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    needle: str,
) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    mcq(bank)
    (bank / "solo.yaml").write_text(
        (BANK / "code" / f"{CODE_ID}.yaml").read_text().replace(CODE_ID, "solo")
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--bank", str(bank), *argv)
    assert (code, out) == (2, "")
    assert needle in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank"]


# ---- grader show: what the sandbox has ---------------------------------------------------------


def test_show_of_a_code_item_says_what_the_sandbox_has(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_RUNTIME", str(fake_runtime(tmp_path / "rt", *STANDARD)))
    assert main(["--bank", str(BANK), "show", "replace-head-5-classes"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "The sandbox has: python 3.11, torch 2.14.1, torchvision 0.29.1" in out
    assert "nothing else (no matplotlib, no sklearn, no pandas, no scipy); no network." in out
    assert "grader init replace-head-5-classes" in out


def test_show_of_other_kinds_says_nothing_of_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--bank", str(BANK), "show", "resnet18-output-shape"]) == 0
    assert "The sandbox has" not in capsys.readouterr().out


# ---- grader new -------------------------------------------------------------------------------


@pytest.fixture
def author(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty bank and solutions folder of the author's own."""
    bank, solutions = tmp_path / "questions", tmp_path / "solutions"
    bank.mkdir()
    monkeypatch.setenv("GRADER_SOLUTIONS", str(solutions))
    return bank, solutions


@pytest.mark.parametrize("kind", KINDS)
def test_new_items_validate_as_written(
    capsys: pytest.CaptureFixture[str], author: tuple[Path, Path], kind: str
) -> None:
    bank, solutions = author
    code, out, err = run(capsys, "--bank", str(bank), "new", kind, f"my-{kind}")
    assert (code, err) == (0, "")
    path = bank / kind / f"my-{kind}.yaml"
    assert f"wrote {path}" in out and f"validate {path}" in out
    assert "TODO" in path.read_text()
    assert run(capsys, "--bank", str(bank), "validate")[0] == 0
    loaded = load_bank([bank])
    assert not loaded.issues and loaded.get(f"my-{kind}").kind == kind
    assert (solutions / f"my-{kind}").is_dir() == (kind == "code")


def test_a_new_code_item_declares_its_solutions(
    capsys: pytest.CaptureFixture[str], author: tuple[Path, Path]
) -> None:
    bank, solutions = author
    assert run(capsys, "new", "code", "my-code", "--bank", str(bank))[0] == 0  # option after it
    item = load_bank([bank]).get("my-code")
    assert isinstance(item, CodeItem)
    folder = solutions / "my-code"
    cases = load_solution_set(folder)
    assert (folder / cases.reference).is_file() and cases.wrong
    names = {c.name for c in item.checks}
    for case in cases.wrong:
        assert (folder / case.file).is_file() and set(case.failed) <= names
    assert item.points == sum(c.points for c in item.checks)
    assert any(c.varied and c.uses_reference() for c in item.checks)


@pytest.mark.torch
@pytest.mark.slow
def test_a_new_code_item_passes_selftest_as_written(
    capsys: pytest.CaptureFixture[str],
    author: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not (SandboxSettings().runtime / "bin" / "python").exists():
        pytest.skip("no sandbox runtime: run `make runtime`")
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    bank, _ = author
    assert run(capsys, "--bank", str(bank), "new", "code", "my-code")[0] == 0
    code, out, _ = run(capsys, "--bank", str(bank), "selftest", "my-code")
    assert code == 0, out
    assert "2 case(s), 2 as declared, 0 not" in out
    # Its checks draw inputs per run: on every seed of the pool, as declared on each.
    code, out, _ = run(capsys, "--bank", str(bank), "selftest", "--every-draw", "my-code")
    assert code == 0, out
    assert out.count("(all 8 draws)") == 2 and "2 case(s), 2 as declared, 0 not" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["new", "mcq", "resnet-head"], "id 'resnet-head' exists"),
        (["new", "code", "Not_Kebab"], "id 'Not_Kebab' is not kebab-case"),
        (["new", "mcq", "fine", "--topic", "../up"], "topic '../up' is not kebab-case"),
        (["new", "code", "has-solutions"], "has-solutions exists; remove it or choose another id"),
        (["new", "quiz", "x"], "invalid choice: 'quiz'"),
        (["new", "code", "old-name"], "'old-name' is a former id of 'resnet-head'"),
    ],
    ids=["id-taken", "bad-id", "bad-topic", "solutions-exist", "unknown-kind", "alias"],
)
def test_new_refuses_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], author: tuple[Path, Path], argv: list[str], needle: str
) -> None:
    bank, solutions = author
    mcq(bank, **{"answer: B": "answer: B\naliases: [old-name]"})
    (solutions / "has-solutions").mkdir(parents=True)
    before = sorted(p.relative_to(bank.parent) for p in bank.parent.rglob("*"))
    code, out, err = run(capsys, "--bank", str(bank), *argv)
    assert (code, out) == (2, "")
    assert needle in one_error_line(err)
    assert sorted(p.relative_to(bank.parent) for p in bank.parent.rglob("*")) == before


def test_new_starts_a_bank_that_does_not_exist_yet(
    capsys: pytest.CaptureFixture[str], author: tuple[Path, Path]
) -> None:
    bank = author[0] / "course-2027"
    assert run(capsys, "--bank", str(bank), "new", "numeric", "first-item")[0] == 0
    assert list(load_bank([bank]).items) == ["first-item"]


def test_new_refuses_an_id_whose_file_is_broken(
    capsys: pytest.CaptureFixture[str], author: tuple[Path, Path]
) -> None:
    bank, _ = author
    (bank / "half-done.yaml").write_text("schema_version: 1\nkind: mcq\n")
    code, _, err = run(capsys, "--bank", str(bank), "new", "mcq", "half-done")
    assert code == 2 and "'half-done' exists" in one_error_line(err)


# ---- docs/authoring.md agrees with the code and the bank ---------------------------------------

GUIDE = ROOT / "docs" / "authoring.md"
EXAMPLE = [
    "questions/code/resnet18-embeddings.yaml",
    "solutions/resnet18-embeddings/reference.py",
    "solutions/resnet18-embeddings/wrong_replaces_fc.py",
    "solutions/resnet18-embeddings/expect.yaml",
]


@pytest.mark.parametrize("path", EXAMPLE)
def test_the_guides_worked_example_is_the_banks_item(path: str) -> None:
    assert (ROOT / path).read_text().rstrip() in GUIDE.read_text()


def test_the_guide_names_every_input_tag_and_expectation() -> None:
    from grader.models.code import Expect
    from grader.probe.harness.inputs import MAKERS

    guide = GUIDE.read_text()
    assert [tag for tag in ("$expr", *MAKERS) if f"{{{tag}: " not in guide] == []
    assert [name for name in Expect.model_fields if f"| `{name}" not in guide] == []
