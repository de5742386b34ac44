"""Feedback that finds the mistake (issue 16): one cause said once, its checks skipped.

Hand-written submissions graded for real through the process sandbox (the runner, its watchdog
and the observer as they run for students): a misnamed function, a missing `return`, other
parameters, a syntax error in a .py and in a notebook cell, an infinite loop under a short limit,
a student who prints, and a runner that lies about what it defines. Then the host-side pieces on
their own: the contract's parsing, the channel's `running` lines, the observer's validation, the
locked frame writer, the report's caps.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from grader.bank import load_item
from grader.cli.render import report_text
from grader.errors import ChannelError
from grader.gradescope.results import gradescope_results
from grader.grading.bounds import REPORT_CAP, bounded
from grader.grading.code import grade_code
from grader.grading.contract import Declared, accepts, declared, did_you_mean
from grader.grading.output import OUTPUT_CAP
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source, notebook_source
from grader.models import CodeItem, Report, Status, Verdict
from grader.models.code import Contract
from grader.probe.channel import parse_channel
from sandbox.base import Sandbox
from tests.grader.items import MEAN_OF_HEAD
from tests.sandbox.conftest import VARIANTS, open_variant

sys.path.insert(0, str(Path(__file__).parents[2] / "grader" / "probe" / "harness"))
import observer  # type: ignore[import-not-found]  # noqa: E402
import wire  # type: ignore[import-not-found]  # noqa: E402

ITEM = (
    MEAN_OF_HEAD.format(id="mean-of")
    + """\
contract: [{name: mean_of, signature: "mean_of(values: list[float]) -> float"}]
limits: {wall_s: 3}
checks:
  - name: loads
    message: Your file runs.
    expect: {no_error: true}
  - name: simple
    points: 2
    message: mean_of([1, 2, 3]) is 2.
    hint: Divide the sum by len(values).
    call: {function: mean_of, args: [[1, 2, 3]]}
    expect: {value: 2.0}
  - name: doubled
    message: Twice the mean of [1, 3] is 4.
    hint: Return the mean, do not print it.
    exec: "result = mean_of([1, 3]) * 2"
    expect: {value: 4.0}
  - name: secret
    points: 2
    hidden: true
    message: A hidden case.
    call: {function: mean_of, args: [[10, 20, 60]]}
    expect: {value: {from: reference}}
"""
)

REFERENCE = """\
def mean_of(values):
    return sum(values) / len(values)
"""

PROCESS = [v for v in ("process-warm", "process-cold") if v in VARIANTS]
#: Graded through the process sandbox: needs its runtime (the backend skips with the reason).
real = pytest.mark.torch


@pytest.fixture(scope="module")
def item(tmp_path_factory: pytest.TempPathFactory) -> CodeItem:
    path = tmp_path_factory.mktemp("bank") / "mean-of.yaml"
    path.write_text(ITEM)
    loaded, issues = load_item(path)
    assert isinstance(loaded, CodeItem), issues
    return loaded


def process(variant: str = "process-warm") -> Sandbox:
    if not PROCESS:
        pytest.skip("no process variant selected (GRADER_TEST_BACKENDS)")
    if variant not in VARIANTS:
        variant = PROCESS[0]
    sandbox = open_variant(variant)
    if isinstance(sandbox, str):
        pytest.skip(f"{variant} backend unavailable: {sandbox}")
    return sandbox


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ReferenceStore:
    root = tmp_path_factory.mktemp("solutions")
    (root / "mean-of").mkdir()
    (root / "mean-of" / "reference.py").write_text(REFERENCE)
    return ReferenceStore(process(), root, root / "cache")


def grade(item: CodeItem, store: ReferenceStore, code: str | Source, variant: str = "") -> Report:
    source = code if isinstance(code, Source) else Source(code)
    return grade_code(item, source, process(variant or "process-warm"), store)


def notebook(*cells: str) -> Source:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [],
             "execution_count": None, "source": text}
            for i, text in enumerate(cells)
        ],
    }  # fmt: skip
    return notebook_source(json.dumps(nb).encode(), "work.ipynb")


def skipped(report: Report) -> dict[str, str]:
    """Skipped checks by name: the reason they carry. A skipped check has no hint and no score."""
    found = {}
    for check in report.checks:
        if (check.observed or "").startswith("skipped: "):
            assert not check.passed and check.score == 0 and check.hint is None, check
            found[check.name] = (check.observed or "").removeprefix("skipped: ")
    return found


# ---- graded for real: the process sandbox -------------------------------------------------------


@real
def test_a_misnamed_function_is_said_once_with_what_the_file_defines(item, store) -> None:
    code = "def mean(values):\n    return sum(values) / len(values)\n\ndef helper():\n    pass\n"
    report = grade(item, store, code)
    assert report.verdict is Verdict.WRONG_ANSWER and report.score == 1  # `loads` still holds
    assert report.message == (
        "Your file does not define `mean_of(values)`; it defines: `mean`, `helper`. "
        "Did you mean `mean`?"
    )
    reason = "`mean_of` is not defined (see above)"
    assert skipped(report) == {"simple": reason, "doubled": reason, "secret": reason}
    assert "NameError" not in report.model_dump_json()


@real
def test_other_parameters_are_said_once(item, store) -> None:
    report = grade(item, store, "def mean_of(values, weights):\n    return 2.0\n")
    assert report.message == (
        "`mean_of` in your file takes (values, weights); the checks call it as `mean_of(values)`."
    )
    assert set(skipped(report)) == {"simple", "doubled", "secret"}
    assert report.verdict is Verdict.WRONG_ANSWER and report.score == 1


@real
def test_a_missing_return_is_said_once_and_its_type_errors_are_not_repeated(item, store) -> None:
    report = grade(item, store, "def mean_of(values):\n    mean = sum(values) / len(values)\n")
    assert report.message == "`mean_of` returned None: did you forget `return`?"
    reason = "`mean_of` returned None (see above)"
    # `doubled` raised TypeError (None * 2) in the check's own code: skipped, not repeated
    assert skipped(report) == {"simple": reason, "doubled": reason, "secret": reason}
    assert "TypeError" not in report.model_dump_json()
    assert report.verdict is Verdict.WRONG_ANSWER and report.score == 1


MAKE = """\
schema_version: 1
id: make-dict
kind: code
title: A dict
prompt: Define make().
difficulty: easy
explanation: A dict literal.
starter: "def make(): ..."
contract: [{name: make, signature: "make() -> dict"}]
checks:
  - name: is-a-dict
    message: make() returns a dict.
    call: {function: make}
    expect: {type: dict}
  - name: has-a
    message: Its `a` is 1.
    hint: Put 1 under the key `a`.
    exec: "result = make().get('a')"
    expect: {value: 1}
"""


@real
def test_a_wrong_type_is_said_once_with_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "make-dict.yaml").write_text(MAKE)
    item, issues = load_item(tmp_path / "make-dict.yaml")
    assert isinstance(item, CodeItem), issues
    store = ReferenceStore(process(), tmp_path, tmp_path / "cache")
    report = grade(item, store, "def make():\n    return ('a', 1)\n")
    assert report.message == "`make` returned a `tuple`; the checks expect a `dict`."
    reason = "`make` returned a `tuple` (see above)"
    assert skipped(report) == {"is-a-dict": reason, "has-a": reason}  # no AttributeError per check
    assert report.verdict is Verdict.WRONG_ANSWER


@real
def test_a_crash_in_the_students_own_code_is_not_skipped(item, store) -> None:
    report = grade(item, store, "def mean_of(values):\n    return sum(values) / 0\n")
    assert report.verdict is Verdict.RUNTIME_ERROR and skipped(report) == {}
    assert "ZeroDivisionError" in (report.checks[1].observed or "")
    assert report.checks[1].hint == "Divide the sum by len(values)."


@real
def test_a_syntax_error_shows_its_line_and_a_caret_and_skips_every_check(item, store) -> None:
    report = grade(item, store, "def mean_of(values):\n    total = sum(values\n    return = 1\n")
    assert report.verdict is Verdict.RUNTIME_ERROR and report.score == 0
    head, code, caret = (report.message or "").split("\n")
    assert head.startswith("Python cannot read your file: SyntaxError at line 2: ")
    assert (code, caret) == ("    total = sum(values", "               ^")
    assert set(skipped(report)) == {c.name for c in item.checks}
    assert all(r == "your file has a syntax error (see above)" for r in skipped(report).values())


@real
def test_a_syntax_error_in_a_notebook_names_its_cell(item, store) -> None:
    source = notebook("!pip install torch\nimport math", "x = 1\ndef mean_of(values)\n    pass")
    report = grade(item, store, source)
    head, code, caret = (report.message or "").split("\n")
    assert head.startswith("Python cannot read your file: SyntaxError at cell 2, line 2: ")
    assert code == "    def mean_of(values)" and caret == "                       ^"
    # the dropped shell line is a note of its own, not glued onto the crash message
    assert report.notes == [
        "cell 1: dropped 1 shell/magic line, first `!pip install torch` (they do not run in "
        "the grader)"
    ]
    assert "note: cell 1: dropped" in report_text(report)
    assert "\ncell 1: dropped" in gradescope_results(report)["output"]


LOOP = """\
def spin(n):
    total = 0
    while True:
        total += n

def mean_of(values):
    print("starting", values)
    return spin(len(values))
"""


@real
@pytest.mark.parametrize("variant", PROCESS)
def test_an_infinite_loop_names_the_limit_and_the_line_it_was_on(item, store, variant) -> None:
    report = grade(item, store, LOOP, variant)
    assert report.verdict is Verdict.TIME_LIMIT and report.score == 1  # `loads` ran before
    assert report.message == (
        "Your program was stopped after 3 s, the item's time limit. It was at line 3 of your "
        "code, in `spin`: `while True:` (during check `simple`)."
    )
    assert set(skipped(report)) == {"simple", "doubled", "secret"}
    assert report.output == "[check simple, until it was stopped]\nstarting [1, 2, 3]"


@real
def test_an_infinite_loop_in_a_notebook_names_its_cell(item, store) -> None:
    source = notebook("import math", "print('top')\nwhile True:\n    pass")
    report = grade(item, store, source)
    assert report.verdict is Verdict.TIME_LIMIT
    assert (report.message or "").endswith(
        "It was at cell 2, line 2 of your code: `while True:` (while your file was loading)."
    )


PRINTS = """\
import sys
print("loading \\x1b[31mred")
def mean_of(values):
    print("mean of", values)
    print("warned", len(values), file=sys.stderr)
    return sum(values) / len(values)
"""


@real
def test_the_students_output_is_shown_capped_printable_and_never_a_hidden_checks(
    item, store
) -> None:
    report = grade(item, store, PRINTS)
    assert report.verdict is Verdict.PASSED
    assert report.output == (
        "[while loading your file]\nloading ?[31mred\n"
        "[check simple]\nmean of [1, 2, 3]\n[check simple, stderr]\nwarned 3\n"
        "[check doubled]\nmean of [1, 3]\n[check doubled, stderr]\nwarned 2"
    )  # the hidden check printed `mean of [10, 20, 60]`: not shown
    assert "Your output:\n  [while loading your file]" in report_text(report)
    assert "Your output:" in gradescope_results(report)["output"]
    flood = grade(
        item,
        store,
        "print('x' * 10_000)\n" + REFERENCE.replace("    ret", "    print('y' * 500)\n    ret"),
    )
    assert flood.output is not None and len(flood.output) < OUTPUT_CAP + 50
    assert flood.output.startswith("[while loading your file]\nxxx")
    cut = "x\n... [cut at 4000 characters]\n[check simple]\nyyy"  # the observer's cap, marked
    assert cut in flood.output and flood.output.endswith("more characters cut]")


LIAR = """\
import sys
runner = sys.modules["runner"]
CLAIM = {CLAIM}
runner.defines = lambda namespace, contract: CLAIM
"""


@real
@pytest.mark.parametrize(
    ("claim", "body"),
    [
        ([], REFERENCE),  # says nothing is defined, while the right function is
        ([{"name": "mean_of", "type": "function", "callable": True,
           "params": [["values", "POSITIONAL_OR_KEYWORD", False]]}], ""),
    ],
    ids=["hides-a-right-function", "claims-a-missing-one"],
)  # fmt: skip
def test_a_lying_runner_changes_the_words_never_raises_a_score(
    item, store, claim: list[dict[str, Any]], body: str
) -> None:
    report = grade(item, store, LIAR.replace("{CLAIM}", repr(claim)) + body)
    assert report.status is Status.FAILED and report.score == 1  # only `loads` (no target)
    assert all(not c.passed for c in report.checks[1:])


# ---- the host's pieces on their own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "want"),
    [
        ("finetune(model: nn.Module, train_loader: DataLoader) -> nn.Module",
         Declared("finetune", True, ("model", "train_loader"), 2)),
        ("`build_model(num_classes: int = 5) -> nn.Module`",
         Declared("build_model", True, ("num_classes",), 0)),
        ("finetune(model, [broken", Declared("finetune", True)),
        ("finetune: nn.Module", Declared("finetune", False)),
    ],
    ids=["two-params", "a-default-in-backticks", "unparsable", "a-variable"],
)  # fmt: skip
def test_a_contract_signature_is_read_as_the_checks_call_it(signature: str, want: Declared) -> None:
    name = want.name
    assert declared(Contract(name=name, signature=signature)) == want


WANT = Declared("f", True, ("model", "loader"), 2)
P, K, V = "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY", "VAR_POSITIONAL"


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ([["model", P, False], ["loader", P, False]], True),
        ([["m", P, False], ["l", P, False], ["epochs", P, True]], True),
        ([["args", V, False]], True),
        ([["model", P, False]], False),
        ([["model", P, False], ["loader", P, False], ["epochs", P, False]], False),
        ([["model", P, False], ["loader", P, False], ["lr", K, False]], False),
        ([["not a name", P, False]], True),  # not a signature: nothing is judged
    ],
    ids=["same", "other-names-and-a-default", "varargs", "too-few", "too-many", "keyword-only",
         "unreadable"],
)  # fmt: skip
def test_parameters_are_judged_by_position(params: list[list[Any]], ok: bool) -> None:
    assert accepts(params, WANT) is ok


def test_did_you_mean() -> None:
    assert did_you_mean("finetune", ["helper", "fine_tune"]) == "fine_tune"
    assert did_you_mean("top1", ["Top1", "top_k"]) == "Top1"
    assert did_you_mean("finetune", ["helper", "loader"]) is None


NONCE = "n" * 32


def channel(*lines: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps({"nonce": NONCE, **line}) for line in lines).encode()


def test_the_channel_keeps_the_last_running_sample() -> None:
    first = {"probe": "load", "line": 2, "cell": None, "code": "x", "function": "f", "stdout": ""}
    last = first | {"probe": "simple", "line": 7}
    found = parse_channel(channel({"running": first}, {"running": last}), NONCE, ["simple"])
    assert found.running == last and not found.done


@pytest.mark.parametrize(
    "lines",
    [
        [{"running": {"probe": "elsewhere"}}],
        [{"running": {"probe": "load"}, "done": True}],
        [{"done": True}, {"running": {"probe": "load"}}],
        [{"running": {"probe": "load", "line": "3"}}],
    ],
    ids=["unknown-probe", "with-done", "after-done", "line-not-a-number"],
)
def test_a_bad_running_line_fails_closed(lines: list[dict[str, Any]]) -> None:
    with pytest.raises(ChannelError):
        parse_channel(channel(*lines), NONCE, ["simple"])


@pytest.mark.parametrize(
    "frame",
    [
        {"probe": "nope"},
        {"probe": "load", "line": "2"},
        {"probe": "load", "stdout": 3},
        "not a dict",
    ],
)
def test_the_observer_refuses_a_malformed_running_frame(frame: Any) -> None:
    with pytest.raises(wire.WireError):
        observer.running_fields(frame, ["load", "simple"])


@pytest.mark.parametrize(
    "defines",
    [
        "all of them",
        [{"name": "f", "type": "function", "callable": "yes", "params": None}],
        [{"name": "f", "type": "function", "callable": True, "params": [["x", "SOME", False]]}],
        [{"name": "f", "type": "function", "callable": True, "params": [["x"]]}],
    ],
    ids=["not-a-list", "callable-not-a-bool", "unknown-kind", "short-parameter"],
)
def test_the_observer_refuses_malformed_definitions(defines: Any) -> None:
    with pytest.raises((wire.WireError, ValueError)):
        observer.defines_fields(defines)


def test_frames_from_two_threads_stay_whole() -> None:
    """The runner's main thread and its watchdog share the data pipe: frames larger than the
    pipe's buffer go in pieces, and only the lock keeps two writers' pieces apart."""
    read_fd, write_fd = os.pipe()
    writer, received = wire.FrameWriter(write_fd), bytearray()
    payload, per_thread = "x" * 300_000, 20

    def drain() -> None:
        while chunk := os.read(read_fd, 1 << 16):
            received.extend(chunk)

    def send(name: str) -> None:
        for _ in range(per_thread):
            writer.send({"running": {"probe": name, "stdout": payload}})

    reader = threading.Thread(target=drain)
    senders = [threading.Thread(target=send, args=(name,)) for name in ("a", "b")]
    for thread in [reader, *senders]:
        thread.start()
    for thread in senders:
        thread.join()
    assert writer.send({"end": True}) and writer.send({"running": {}}) is False  # end is last
    os.close(write_fd)
    reader.join()
    os.close(read_fd)
    assert sorted(_frame_probes(bytes(received))) == ["a"] * per_thread + ["b"] * per_thread


def _frame_probes(data: bytes) -> list[str]:
    names, at = [], 0
    while at < len(data):
        header_len, blob_len = wire.parse_frame(data[at : at + wire.PREFIX.size])
        start = at + wire.PREFIX.size
        header = wire.load_header(data[start : start + header_len])
        at = start + header_len + blob_len
        if "running" in header:
            names.append(header["running"]["probe"])
    return names


def test_notes_and_output_are_kept_under_the_report_cap() -> None:
    notes = [f"cell {n}: dropped 1 shell/magic line, first `!x` ({'y' * 500})" for n in range(500)]
    huge = Report(
        question="q",
        status=Status.FAILED,
        verdict=Verdict.WRONG_ANSWER,
        score=0.0,
        max_score=1.0,
        duration_s=0.1,
        backend="process",
        notes=notes,
        output="z" * 200_000,
    )
    cut = bounded(huge)
    assert len(cut.model_dump_json().encode()) <= REPORT_CAP
    assert cut.notes[0].startswith("cell 0: dropped") and cut.notes[-1].endswith(
        "more notes cut: reports are capped"
    )
    assert cut.output is not None and "more characters cut: reports are capped" in cut.output
