"""`Grader`: the one entry point, its dispatch on kind, and the bugs it fixed (a `--bank`'s data
files, GPU routing for every kind, `grader weights add` without a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.errors import BadSubmission
from grader.grading import Grader
from grader.grading.submission import Source
from grader.models import Status
from grader.service.grading import queue_for
from grader.settings import GraderSettings
from sandbox.fake import FakeSandbox, result

HEADER = "schema_version: 1\ndifficulty: easy\nexplanation: because\n"
CODE_ITEM = (
    HEADER
    + """id: {id}
kind: code
title: Reads its data
prompt: Define answer().
starter: "def answer(): ..."
contract: [{{name: answer, signature: "answer()"}}]
data: [numbers.txt]
{limits}checks:
  - name: value
    call: {{function: answer}}
    message: answer() is 3.
    expect: {{value: 3}}
"""
)
MCQ_ITEM = (
    HEADER
    + """id: pick
kind: mcq
title: Pick
prompt: Which?
choices:
  - {text: right, feedback: Yes.}
  - {text: wrong, feedback: No.}
answer: A
"""
)
PREDICT_ITEM = (
    HEADER
    + """id: {id}
kind: predict
title: Predict
prompt: What does it print?
snippet: print(1)
{limits}"""
)
GPU = "limits: {gpu: required}\n"


def write_bank(folder: Path, data: bytes = b"1 2") -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "numbers.txt").write_bytes(data)
    (folder / "reads-data.yaml").write_text(CODE_ITEM.format(id="reads-data", limits=""))
    (folder / "pick.yaml").write_text(MCQ_ITEM)
    (folder / "gpu-code.yaml").write_text(CODE_ITEM.format(id="gpu-code", limits=GPU))
    (folder / "gpu-predict.yaml").write_text(PREDICT_ITEM.format(id="gpu-predict", limits=GPU))
    (folder / "cpu-predict.yaml").write_text(PREDICT_ITEM.format(id="cpu-predict", limits=""))
    return folder


def test_the_bank_knows_its_root_and_reads_data_files_from_it(tmp_path: Path) -> None:
    bank = load_bank([write_bank(tmp_path / "x", b"from x")])
    item = bank.get("reads-data")
    assert bank.root == tmp_path / "x"
    assert bank.data_files(item) == {"data/numbers.txt": b"from x"}  # type: ignore[arg-type]


def test_a_given_bank_s_data_files_reach_the_run(tmp_path: Path) -> None:
    """`grader --bank X check` once sent the default bank's data files: X's must be sent."""
    bank = load_bank([write_bank(tmp_path / "x", b"only in x")])
    sandbox = FakeSandbox(lambda request: result())  # prints nothing, sends nothing
    settings = GraderSettings(solutions=tmp_path / "solutions", cache=tmp_path / "cache")
    Grader(bank, sandbox, settings).grade("reads-data", Source("def answer():\n    return 3\n"))
    assert sandbox.requests, "the submission was run"
    assert all(r.files.get("data/numbers.txt") == b"only in x" for r in sandbox.requests)


@pytest.mark.parametrize(
    ("item_id", "queue"),
    [("gpu-code", "gpu"), ("gpu-predict", "gpu"), ("cpu-predict", "cpu"), ("pick", "cpu")],
)
def test_gpu_routing_follows_the_item_whatever_its_kind(
    tmp_path: Path, item_id: str, queue: str
) -> None:
    bank = load_bank([write_bank(tmp_path / "x")])
    assert queue_for(bank.get(item_id)) == queue


def test_an_mcq_answer_never_opens_a_sandbox(tmp_path: Path) -> None:
    bank = load_bank([write_bank(tmp_path / "x")])
    settings = GraderSettings(backend="docker", sandbox={"runtime": tmp_path / "none"})
    with Grader(bank, settings=settings) as grader:
        assert grader.grade("pick", "A").status is Status.PASSED
        assert grader._sandbox is None


@pytest.mark.parametrize(
    ("item_id", "answer", "words"),
    [("reads-data", "A", "is a code exercise"), ("pick", Source("x = 1"), "not a file")],
)
def test_the_wrong_sort_of_answer_is_bad_input(
    tmp_path: Path, item_id: str, answer: object, words: str
) -> None:
    bank = load_bank([write_bank(tmp_path / "x")])
    with pytest.raises(BadSubmission, match=words):
        Grader(bank, FakeSandbox.local()).grade(item_id, answer)  # type: ignore[arg-type]


def test_weights_add_without_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["weights", "add"]) == 2
    assert "needs a FILE" in capsys.readouterr().err


def test_a_setting_that_does_not_parse_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRADER_POOL_SIZE", "two")
    assert main(["check", "binary-metrics", "nothing.py"]) == 2
    assert "GRADER_POOL_SIZE='two'" in capsys.readouterr().err
