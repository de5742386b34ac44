"""The CLI contract: exit codes 0/1/2/3, one `error:` line on stderr, the report JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli.app import main
from tests.grader.items import mcq, numeric, write

REPORT_KEYS = {
    "question",
    "status",
    "verdict",
    "score",
    "max_score",
    "checks",
    "duration_s",
    "backend",
}
CHECK_KEYS = {"name", "passed", "score", "max_score", "message", "hint"}


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    mcq(tmp_path)
    numeric(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["answer", "resnet-head", "B"], 0),
        (["answer", "resnet-head", "C"], 1),
        (["answer", "precision-85", "85%"], 0),
        (["answer", "precision-85", "0.9"], 1),
    ],
    ids=["mcq-right", "mcq-wrong", "numeric-right", "numeric-wrong"],
)
def test_answer_exit_codes(
    capsys: pytest.CaptureFixture[str], bank: Path, argv: list[str], code: int
) -> None:
    got, out, err = run(capsys, "--bank", str(bank), *argv)
    assert got == code and err == ""
    assert ("PASSED" if code == 0 else "WRONG_ANSWER") in out
    assert "Explanation:" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["answer", "nope", "A"], "unknown question id 'nope'"),
        (["answer", "resnet-head", "E"], "not one of A-C"),
        (["answer", "precision-85", "lots"], "is not a number"),
        (["show", "nope"], "unknown question id"),
        (["frobnicate"], "invalid choice"),
        (["answer", "resnet-head"], "required"),
    ],
    ids=[
        "unknown-id",
        "letter-out-of-range",
        "not-a-number",
        "show-unknown",
        "bad-command",
        "missing-arg",
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], bank: Path, argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "--bank", str(bank), *argv)
    assert code == 2
    assert needle in one_error_line(err)


def test_answer_json_report_shape(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    code, out, _ = run(capsys, "--bank", str(bank), "answer", "resnet-head", "A", "--json")
    report = json.loads(out)
    assert code == 1 and REPORT_KEYS <= set(report)
    assert report["status"] == "failed" and report["verdict"] == "WRONG_ANSWER"
    assert (report["score"], report["max_score"], report["backend"]) == (0, 2, "host")
    [check] = report["checks"]
    assert CHECK_KEYS <= set(check) and check["passed"] is False


def test_show_never_leaks(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    for fmt in ([], ["--json"]):
        code, out, _ = run(capsys, "--bank", str(bank), "show", "resnet-head", *fmt)
        assert code == 0 and "model.classifier" in out
        for secret in (
            "ResNets end with",
            "MobileNetV2's head",
            "name their last layer",
            'answer": ',
            "feedback",
        ):
            assert secret not in out


def test_list_filters_and_json(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    code, out, _ = run(capsys, "--bank", str(bank), "list", "--tag", "resnet", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)] == ["resnet-head"]
    code, out, _ = run(capsys, "--bank", str(bank), "list", "--difficulty", "medium")
    assert code == 0 and "precision-85" in out and "resnet-head" not in out


def test_validate_exit_codes(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    assert run(capsys, "validate", str(bank))[0] == 0
    write(bank, "broken", "schema_version: 1\nid: broken\nkind: mcq\n")
    write(bank, "tabs", "schema_version: 1\n\tid: tabs\n")
    code, out, err = run(capsys, "validate", str(bank))
    assert code == 2 and "2 valid item(s)" in out
    lines = err.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines)
    assert any("broken.yaml:1:1" in line for line in lines)
    assert any("tabs.yaml:2:1" in line for line in lines)


def test_validate_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "absent"))
    assert code == 2 and "no such file or folder" in one_error_line(err)


def test_schema_has_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    assert code == 0 and set(schema["discriminator"]["mapping"]) >= {"mcq", "numeric"}
    for name, model in schema["$defs"].items():
        for field, spec in model.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"


def test_unreadable_file_is_bad_input(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    loop = bank / "loop.yaml"
    loop.symlink_to(loop)
    code, _, err = run(capsys, "validate", str(bank))
    assert code == 2 and "loop.yaml:1:1: cannot read the file" in one_error_line(err)


def test_internal_error_is_exit_3_without_traceback(
    capsys: pytest.CaptureFixture[str], bank: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash of the grader itself is one line and exit 3, never a traceback."""

    def crash(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("grader.grading.grader.grade_answer", crash)
    code, out, err = run(capsys, "--bank", str(bank), "answer", "resnet-head", "B")
    assert code == 3 and out == ""
    assert one_error_line(err) == (
        "error: internal error (RuntimeError: disk on fire); set GRADER_DEBUG=1 for details"
    )


def test_console_script_prints_no_traceback(bank: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "--bank", str(bank), "answer", "nope", "A"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert one_error_line(proc.stderr) == (
        "error: unknown question id 'nope'; `grader list` shows the ids in the bank"
    )


def test_no_sandbox_is_exit_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_RUNTIME", str(tmp_path / "no-runtime"))
    submission = tmp_path / "mine.py"
    submission.write_text("def build_model():\n    return None\n")
    code, _, err = run(capsys, "check", "replace-head-5-classes", str(submission))
    assert code == 3 and "no Python runtime" in one_error_line(err)


def test_check_refuses_non_code_items(
    capsys: pytest.CaptureFixture[str], bank: Path, tmp_path: Path
) -> None:
    submission = tmp_path / "mine.py"
    submission.write_text("x = 1\n")
    code, _, err = run(capsys, "--bank", str(bank), "check", "resnet-head", str(submission))
    assert code == 2 and "grader answer resnet-head" in one_error_line(err)


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("big.py", b"#" * (1024 * 1024 + 1), "larger than 1024 KiB"),
        ("nb.ipynb", b"{not json", "not a Jupyter notebook"),
        ("notes.txt", b"x = 1", "submit a .py or .ipynb"),
    ],
    ids=["oversized", "not-a-notebook", "wrong-suffix"],
)
def test_bad_submission_files_are_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, data: bytes, needle: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, _, err = run(capsys, "check", "replace-head-5-classes", str(path))
    assert code == 2 and needle in one_error_line(err)
