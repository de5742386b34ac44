"""Batch grading (`grader grade ITEM PATH...`): folders, LMS zips, a bad file in the middle, zip
bombs and unsafe member names, report names that collide, the scores file, the exit codes, and
an interrupted batch that keeps what it graded.

Most tests grade a small `mean_of` item through the fake sandbox (the real harness with the host's
python: the point is the batch, not the sandbox); the tests marked `torch` run the real `grader
grade` command on the process backend.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import struct
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.grading import Grader
from grader.models import CodeItem, Verdict
from grader.ops import batch
from grader.ops.batch import Outbox, Summary, collect, grade_batch, prepare, student_of
from grader.ops.batch import sources as batch_sources
from grader.ops.loopback import GRADER, clean_env
from grader.settings import GraderSettings
from sandbox.errors import SandboxFailure
from sandbox.fake import FakeSandbox, run_locally
from sandbox.home import grader_home
from sandbox.process.jail import Runtime
from sandbox.settings import SandboxSettings
from tests.grader.items import MEAN_OF_HEAD, mcq

ITEM = (
    MEAN_OF_HEAD.format(id="mean-of")
    + """\
contract: [{name: mean_of, signature: "mean_of(values) -> float"}]
limits: {wall_s: 10}
checks:
  - name: simple
    points: 2
    message: mean_of([1, 2, 3]) is 2.
    call: {function: mean_of, args: [[1, 2, 3]]}
    expect: {value: 2.0}
  - name: secret
    points: 2
    hidden: true
    message: A hidden case.
    call: {function: mean_of, args: [[10, 20, 60]]}
    expect: {value: {from: reference}}
"""
)
REFERENCE = "def mean_of(values):\n    return sum(values) / len(values)\n"
WRONG = "def mean_of(values):\n    return sum(values)\n"
NOT_UTF8 = b"\xff\xfe def mean_of(:\n"


@pytest.fixture
def grader(tmp_path: Path) -> Grader:
    """A grader of a bank holding `mean-of` (and an mcq), on the fake sandbox."""
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "mean-of.yaml").write_text(ITEM)
    mcq(bank)
    solutions = tmp_path / "solutions" / "mean-of"
    solutions.mkdir(parents=True)
    (solutions / "reference.py").write_text(REFERENCE)
    settings = GraderSettings(bank=bank, solutions=solutions.parent, cache=tmp_path / "cache")
    return Grader(load_bank([bank]), FakeSandbox.local(), settings)


def item_of(grader: Grader) -> CodeItem:
    item = grader.bank.get("mean-of")
    assert isinstance(item, CodeItem)
    return item


def graded(grader: Grader, paths: list[Path], out: Path, jobs: int = 2) -> Summary:
    entries, _ = collect(paths)
    item = item_of(grader)
    prepare(grader, item)
    return grade_batch(grader, item, entries, Outbox(out), jobs)


def scores(out: Path) -> list[dict[str, str]]:
    with (out / "scores.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def notebook(code: str) -> bytes:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "source": code}
    cell["execution_count"] = None
    return json.dumps(
        {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    ).encode()


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return path


def test_a_folder_with_a_bad_file_in_the_middle(grader: Grader, tmp_path: Path) -> None:
    """Every file gets a row and a report, in path order; the bad one says why and the batch
    goes on; hidden files and caches are not submissions."""
    folder = tmp_path / "subs"
    (folder / "late").mkdir(parents=True)
    (folder / "__pycache__").mkdir()
    (folder / "adaL_11_21_mean.py").write_text(REFERENCE)
    (folder / "bobB_12_22_mean.py").write_bytes(NOT_UTF8)
    (folder / "late" / "cyC_LATE_13_23_mean.py").write_text(WRONG)
    (folder / "dee.ipynb").write_bytes(notebook(REFERENCE))
    (folder / ".hidden.py").write_text(REFERENCE)
    (folder / "__pycache__" / "x.py").write_text(REFERENCE)
    (folder / "notes.txt").write_text("not a submission")
    out = tmp_path / "out"
    summary = graded(grader, [folder], out)
    rows = scores(out)
    assert [(r["student"], r["status"], r["score"], r["max_score"]) for r in rows] == [
        ("adaL", "passed", "4", "4"),
        ("bobB", "unreadable", "0", "4"),
        ("dee", "passed", "4", "4"),
        ("cyC", "failed", "0", "4"),
    ]
    assert rows[0]["name"] == str(folder / "adaL_11_21_mean.py")
    assert "not UTF-8" in rows[1]["message"] and rows[1]["verdict"] == "RUNTIME_ERROR"
    assert rows[0]["message"] == rows[3]["message"] == ""
    assert summary.counts == {"passed": 2, "unreadable": 1, "failed": 1}
    assert summary.done == summary.total == 4
    for row in rows:
        report = json.loads((out / "reports" / row["report"]).read_text())
        assert (report["status"], report["score"]) == (
            "failed" if row["status"] == "unreadable" else row["status"],
            float(row["score"]),
        )
    assert sorted(os.listdir(out / "reports")) == sorted(r["report"] for r in rows)
    assert (
        rows[2]["report"] == "dee.ipynb.json"
        and rows[3]["report"] == "late_cyC_LATE_13_23_mean.py.json"
    )


def test_a_zip_is_read_in_memory_and_named_zip_bang_member(grader: Grader, tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "export.zip",
        {
            "Ada Lovelace_101_assignsubmission_file_/mean.py": REFERENCE.encode(),
            "Bob Byte_102_assignsubmission_file_/mean.ipynb": notebook(WRONG),
            "Bob Byte_102_assignsubmission_file_/README.md": b"not graded",
            "__MACOSX/._mean.py": b"\x00\x05",
        },
    )
    out = tmp_path / "out"
    graded(grader, [archive], out)
    rows = scores(out)
    assert [(r["name"], r["student"], r["status"]) for r in rows] == [
        (f"{archive}!Ada Lovelace_101_assignsubmission_file_/mean.py", "Ada Lovelace", "passed"),
        (f"{archive}!Bob Byte_102_assignsubmission_file_/mean.ipynb", "Bob Byte", "failed"),
    ]
    assert rows[0]["report"] == "export_Ada_Lovelace_101_assignsubmission_file_mean.py.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bank",
        "cache",
        "export.zip",
        "out",
        "solutions",
    ]


def test_a_zip_bomb_is_refused_in_one_line_and_the_rest_graded(
    grader: Grader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too many entries, too many bytes declared in all, a member over 1 MiB by its header,
    and a member whose header lies about its size: each refused, the good files graded."""
    monkeypatch.setattr(batch_sources, "MAX_ZIP_MEMBERS", 5)
    many = write_zip(tmp_path / "many.zip", {f"s{i}.py": REFERENCE.encode() for i in range(6)})
    big = write_zip(tmp_path / "big.zip", {"big.py": b"#" * (1024 * 1024 + 1)})
    lying = write_zip(
        tmp_path / "lying.zip", {"lies.py": b"#" * 200_000, "ok.py": REFERENCE.encode()}
    )
    shrink_declared_size(lying, "lies.py", 100)
    good = tmp_path / "good.py"
    good.write_text(REFERENCE)
    out = tmp_path / "out"
    summary = graded(grader, [many, big, good, lying], out)
    rows = {r["name"]: r for r in scores(out)}
    assert rows[str(many)]["status"] == "unreadable"
    assert rows[str(many)]["message"] == f"{many}: 6 entries, over the 5 a zip may hold; not read"
    assert "larger than 1024 KiB" in rows[f"{big}!big.py"]["message"]
    assert "cannot read it from the zip" in rows[f"{lying}!lies.py"]["message"]
    assert rows[str(good)]["status"] == rows[f"{lying}!ok.py"]["status"] == "passed"
    assert summary.counts == {"unreadable": 3, "passed": 2}
    assert all("\n" not in r["message"] for r in rows.values())


def test_a_zip_declaring_too_many_bytes_is_refused_whole(
    grader: Grader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_sources, "MAX_ZIP_BYTES", 1000)
    archive = write_zip(tmp_path / "a.zip", {f"s{i}.py": b"#" * 400 for i in range(3)})
    entries, _ = collect([archive])
    assert [(e.name, e.refused) for e in entries] == [
        (str(archive), f"{archive}: its files declare 1.172 KiB in all, over 1000 bytes; not read")
    ]


def shrink_declared_size(path: Path, member: str, size: int) -> None:
    """Rewrite a member's uncompressed size in its local header and in the central directory:
    a zip whose headers understate what the member inflates to."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(member).header_offset
    struct.pack_into("<I", data, local + 22, size)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == member.encode():
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_unsafe_member_names_are_refused_and_write_nothing_outside(
    grader: Grader, tmp_path: Path
) -> None:
    archive = write_zip(
        tmp_path / "evil.zip",
        {
            "../../escape.py": REFERENCE.encode(),
            "/abs/escape.py": REFERENCE.encode(),
            "C:/win/escape.py": REFERENCE.encode(),
            "ok/../../up.py": REFERENCE.encode(),
            "fine.py": REFERENCE.encode(),
        },
    )
    out = tmp_path / "deep" / "out"
    graded(grader, [archive], out)
    rows = scores(out)
    refused = [r for r in rows if r["status"] == "unreadable"]
    assert len(refused) == 4 and len(rows) == 5
    assert all("an absolute or `..` name in the zip" in r["message"] for r in refused)
    assert all("/" not in r["report"] and not r["report"].startswith(".") for r in rows)
    assert sorted(os.listdir(out)) == ["reports", "scores.csv"]
    assert len(os.listdir(out / "reports")) == 5
    assert not list(tmp_path.rglob("escape.py")) and not list(tmp_path.rglob("up.py"))


def test_colliding_report_names_are_told_apart(grader: Grader, tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "sol.py").write_text(REFERENCE)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "SOL.py").write_text(WRONG)
    (tmp_path / "c" / "sol!.py").write_text(REFERENCE)
    out = tmp_path / "out"
    graded(grader, [tmp_path / "a", tmp_path / "b", tmp_path / "c", tmp_path / "a"], out)
    rows = scores(out)
    assert [r["report"] for r in rows] == [
        "sol.py.json",
        "sol.py-2.json",
        "SOL.py-3.json",
        "sol_.py.json",
    ]
    assert [r["status"] for r in rows] == ["passed", "passed", "failed", "passed"]  # `a` once


@pytest.mark.parametrize(
    ("path", "student"),
    [
        ("lovelaceada_12345_67890_mean.py", "lovelaceada"),
        ("lovelaceada_LATE_12345_67890_mean_of-1.py", "lovelaceada"),
        ("Ada Lovelace_4242_assignsubmission_file_/mean.py", "Ada Lovelace"),
        ("week3/my_mean.py", "my_mean"),
        ("mean.ipynb", "mean"),
    ],
    ids=["canvas", "canvas-late", "moodle", "plain", "notebook"],
)
def test_the_student_comes_from_the_lms_file_name(path: str, student: str) -> None:
    assert student_of(path) == student


def test_a_spreadsheet_never_runs_a_cell_as_a_formula(grader: Grader, tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "=HYPERLINK(1).py").write_text(REFERENCE)
    graded(grader, [tmp_path / "subs"], tmp_path / "out")
    assert scores(tmp_path / "out")[0]["student"] == "'=HYPERLINK(1)"


def test_a_grader_failure_on_one_submission_is_an_error_row(tmp_path: Path, grader: Grader) -> None:
    def flaky(request: Any) -> Any:
        if any(b"FAIL_ME" in data for data in request.files.values()):
            raise SandboxFailure("the sandbox broke")
        return run_locally(request)

    grader = Grader(grader.bank, FakeSandbox(flaky), grader.settings)
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "a.py").write_text(REFERENCE)
    (folder / "b.py").write_text(REFERENCE + "# FAIL_ME\n")
    (folder / "c.py").write_text(WRONG)
    summary = graded(grader, [folder], tmp_path / "out", jobs=1)
    rows = scores(tmp_path / "out")
    assert [(r["status"], r["verdict"]) for r in rows] == [
        ("passed", "PASSED"),
        ("error", Verdict.INTERNAL_ERROR.value),
        ("failed", "WRONG_ANSWER"),
    ]
    assert "the sandbox broke" in rows[1]["message"]
    assert summary.counts["error"] == 1


def test_the_csv_is_appended_as_rows_come(grader: Grader, tmp_path: Path) -> None:
    """What a crash would leave: the header and each row as it was recorded, flushed."""
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.py").write_text(REFERENCE)
    out = tmp_path / "out"
    seen: list[int] = []

    def on_row(row: batch.Row, summary: Summary) -> None:
        text = (out / "scores.csv").read_text(encoding="utf-8")
        seen.append(len(list(csv.reader(io.StringIO(text)))) - 1)

    entries, _ = collect([folder])
    prepare(grader, item_of(grader))
    grade_batch(grader, item_of(grader), entries, Outbox(out), 1, on_row)
    assert seen == [1, 2, 3]


def test_a_batch_output_is_replaced_and_another_folder_refused(
    grader: Grader, tmp_path: Path
) -> None:
    (tmp_path / "one.py").write_text(REFERENCE)
    (tmp_path / "two.py").write_text(REFERENCE)
    out = tmp_path / "out"
    graded(grader, [tmp_path / "one.py"], out)
    graded(grader, [tmp_path / "two.py"], out)
    assert os.listdir(out / "reports") == ["two.py.json"]
    assert [r["report"] for r in scores(out)] == ["two.py.json"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(batch.BadInput, match="not empty and not a batch's output"):
        Outbox(tmp_path / "other")


def test_an_interrupt_keeps_the_rows_done_and_closes_the_sandbox(
    grader: Grader, tmp_path: Path
) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        (folder / f"{name}.py").write_text(REFERENCE)
    out = tmp_path / "out"
    entries, _ = collect([folder])

    def stop(row: batch.Row, summary: Summary) -> None:
        if summary.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_batch(grader, item_of(grader), entries, Outbox(out), 1, stop)
    assert [Path(r["name"]).name for r in scores(out)] == ["a.py", "b.py"]


# ---- the command ----------------------------------------------------------------------------


@pytest.fixture
def bank_flag(grader: Grader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return ["--bank", str(tmp_path / "bank")]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["grade", "nope", "x.py"], "unknown question id 'nope'"),
        (["grade", "resnet-head", "x.py"], "'resnet-head' is a mcq item"),
        (["grade", "mean-of", "missing.py"], "missing.py: no such file or folder"),
        (["grade", "mean-of", "empty"], "no .py or .ipynb submission in the PATHs given"),
        (["grade", "mean-of", "x.py", "--out", "x.py"], "x.py: not a folder"),
        (["grade", "mean-of", "x.py", "--jobs", "0"], "argument --jobs: expected a whole number"),
    ],
    ids=["unknown-id", "not-code", "missing-path", "nothing-to-grade", "out-is-a-file", "jobs-0"],
)
def test_bad_input_is_one_line_and_exit_2(
    bank_flag: list[str],
    tmp_path: Path,
    argv: list[str],
    error: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "x.py").write_text(REFERENCE)
    (tmp_path / "empty").mkdir()
    assert main([*bank_flag, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and error in err[-1], err
    assert not (tmp_path / "grades-mean-of").exists()


def real_runtime() -> None:
    runtime = SandboxSettings().runtime
    if Runtime.find(runtime) is None:
        pytest.skip(f"no sandbox runtime at {runtime}: run `make runtime`")


def solution(name: str) -> bytes:
    return (grader_home() / "solutions" / "binary-metrics" / name).read_bytes()


@pytest.mark.torch
def test_grader_grade_on_the_process_backend(tmp_path: Path) -> None:
    """The real command, real sandbox: a zip and a folder, a broken file between them; exit 0,
    the summary on stdout, progress lines on stderr, the scores as the self-test declares."""
    real_runtime()
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "adaL_1_2_metrics.py").write_bytes(solution("reference.py"))
    (folder / "bobB_3_4_metrics.py").write_bytes(NOT_UTF8)
    archive = write_zip(
        tmp_path / "more.zip", {"cyC_5_6_m.py": solution("wrong_f1_arithmetic_mean.py")}
    )
    out = tmp_path / "grades"
    done = subprocess.run(
        [*GRADER, "grade", "binary-metrics", str(folder), str(archive), "--out", str(out)],
        cwd=tmp_path,
        env=clean_env({"GRADER_BACKEND": "process"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "3 submission(s) of binary-metrics: 1 passed, 1 failed, 1 unreadable, 0 error"
    )
    assert "3/3 done" in done.stderr and "unreadable: " in done.stderr
    rows = scores(out)
    assert [(r["student"], r["status"], r["score"], r["max_score"]) for r in rows] == [
        ("adaL", "passed", "10", "10"),
        ("bobB", "unreadable", "0", "10"),
        ("cyC", "failed", rows[2]["score"], "10"),
    ]
    assert float(rows[2]["score"]) < 10
    report = json.loads((out / "reports" / rows[2]["report"]).read_text())
    assert report["verdict"] == "WRONG_ANSWER" and report["backend"] == "process"


@pytest.mark.torch
def test_sigterm_mid_batch_keeps_the_scores_so_far(tmp_path: Path) -> None:
    """SIGTERM while a submission runs: `error: interrupted`, exit 3, the rows graded before
    it kept in scores.csv, and nothing of the run left in the temporary folder."""
    real_runtime()
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "a.py").write_bytes(solution("reference.py"))
    (folder / "b.py").write_bytes(b"import time\ntime.sleep(60)\n")
    (folder / "c.py").write_bytes(solution("reference.py"))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "grades"
    run = subprocess.Popen(
        [*GRADER, "grade", "binary-metrics", str(folder), "--out", str(out), "--jobs", "1"],
        cwd=tmp_path,
        env=clean_env({"GRADER_BACKEND": "process", "TMPDIR": str(tmpdir)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not (out / "scores.csv").is_file() or len(scores(out)) < 1:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the first submission was never graded"
            time.sleep(0.1)
        time.sleep(1.0)  # b.py is sleeping in the sandbox now
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    lines = err.decode().strip().splitlines()
    assert (run.returncode, lines[-1]) == (3, "error: interrupted")
    assert lines[-2] == f"kept 1 of 3 row(s) in {out / 'scores.csv'}"
    assert [Path(r["name"]).name for r in scores(out)] == ["a.py"]
    time.sleep(0.2)
    assert sorted(os.listdir(tmpdir)) == []
