"""Grading code through the harness: verdicts, feedback, notebooks, and forgeries that fail closed.

The fake sandbox runs the real harness with the host's python (these items need no torch); the
real backends run the same harness in tests/sandbox and in the self-test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.bank import load_item
from grader.grading.code import grade_code
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source, notebook_source
from grader.models import CodeItem, Verdict
from sandbox.fake import FakeSandbox, result, run_locally
from tests.grader.items import MEAN_OF_HEAD

ITEM = (
    MEAN_OF_HEAD.format(id="mean-of")
    + """\
contract: [{name: mean_of, signature: "mean_of(values) -> float"}]
limits: {wall_s: 10}
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
  - name: secret
    points: 2
    hidden: true
    message: A hidden case.
    call: {function: mean_of, args: [[10, 20, 60]]}
    expect: {value: {from: reference}}
  - name: empty
    message: An empty list raises ValueError.
    call: {function: mean_of, args: [[]]}
    expect: {raises: {type: ValueError, match: empty}}
"""
)

REFERENCE = """\
def mean_of(values):
    if not values:
        raise ValueError("empty list")
    return sum(values) / len(values)
"""


@pytest.fixture
def item(tmp_path: Path) -> CodeItem:
    path = tmp_path / "mean-of.yaml"
    path.write_text(ITEM)
    loaded, issues = load_item(path)
    assert isinstance(loaded, CodeItem), issues
    return loaded


@pytest.fixture
def store(tmp_path: Path) -> ReferenceStore:
    (tmp_path / "solutions" / "mean-of").mkdir(parents=True)
    (tmp_path / "solutions" / "mean-of" / "reference.py").write_text(REFERENCE)
    return ReferenceStore(FakeSandbox.local(), tmp_path / "solutions", tmp_path / "cache")


def grade(item: CodeItem, store: ReferenceStore, code: str, sandbox: FakeSandbox | None = None):
    return grade_code(item, Source(code), sandbox or FakeSandbox.local(), store)


def test_reference_passes_with_full_marks(item: CodeItem, store: ReferenceStore) -> None:
    report = grade(item, store, REFERENCE)
    assert report.verdict is Verdict.PASSED and report.score == report.max_score == 6


def test_wrong_answer_feedback(item: CodeItem, store: ReferenceStore) -> None:
    code = REFERENCE.replace("/ len(values)", "/ (len(values) + 1)")
    report = grade(item, store, code)
    assert report.verdict is Verdict.WRONG_ANSWER and report.score == 2
    simple, secret = report.checks[1], report.checks[2]
    assert "Expected 2.0; observed 1.5" in simple.message and simple.hint
    assert not secret.passed and secret.expected is None
    assert "30" not in secret.message and "hidden" in secret.message


def test_crash_shows_the_students_own_line(item: CodeItem, store: ReferenceStore) -> None:
    report = grade(item, store, "def mean_of(values):\n    return totl / 3\n")
    assert report.verdict is Verdict.RUNTIME_ERROR
    assert "NameError: name 'totl' is not defined (line 2: return totl / 3)" in (
        report.checks[1].observed or ""
    )
    assert "harness" not in report.model_dump_json()


def test_load_error_is_runtime_error(item: CodeItem, store: ReferenceStore) -> None:
    report = grade(item, store, "import nonexistent_module_xyz\n")
    assert report.verdict is Verdict.RUNTIME_ERROR and report.score == 0
    assert "ModuleNotFoundError" in (report.message or "")


FORGERIES = {
    "print-passed": 'print(\'{"passed": true, "score": 6}\')\n',
    "exit-zero": "import sys\nsys.exit(0)\n",
    "os-exit": "import os\nos._exit(0)\n",
    "atexit": "import atexit, os\natexit.register(os._exit, 0)\nraise SystemExit(0)\n",
    "write-channel-no-nonce": (
        "import os\nfor c in (os.environ.get('SANDBOX_CHANNEL', '.channel'), '.channel'):\n"
        '    open(c, \'a\').write(\'{"probe": "simple", "observation": {}}\\n\')\n'
        "def mean_of(values):\n    return 0\n"
    ),
    "steal-nonce-duplicate": (
        "import json, os, gc\ndef mean_of(values):\n    return 0\nfor o in gc.get_objects():\n"
        "    if isinstance(o, dict) and 'probes' in o:\n"
        "        line = json.dumps({'nonce': o.get('nonce'), 'probe': 'simple',\n"
        "            'observation': {'result': {'type': 'float', 'value': 2.0}}})\n"
        "        open(os.environ['SANDBOX_CHANNEL'], 'a').write(line + '\\n')\n"
    ),
}


@pytest.mark.parametrize("code", FORGERIES.values(), ids=FORGERIES.keys())
def test_forgeries_never_pass(item: CodeItem, store: ReferenceStore, code: str) -> None:
    report = grade(item, store, code)
    assert not report.passed and report.status.value == "failed"
    assert report.verdict in {Verdict.RUNTIME_ERROR, Verdict.WRONG_ANSWER}


@pytest.mark.parametrize(
    ("flag", "verdict"),
    [
        ("timed_out", Verdict.TIME_LIMIT),
        ("memory_exceeded", Verdict.MEMORY_LIMIT),
        ("output_exceeded", Verdict.OUTPUT_LIMIT),
    ],
    ids=["time", "memory", "output"],
)
def test_limits_become_verdicts(
    item: CodeItem, store: ReferenceStore, flag: str, verdict: Verdict
) -> None:
    sandbox = FakeSandbox(lambda request: result(exit_code=None, **{flag: True}))
    report = grade(item, store, REFERENCE, sandbox)
    assert report.verdict is verdict and not report.passed


def test_malformed_channel_fails_closed(item: CodeItem, store: ReferenceStore) -> None:
    def garbage(request):
        nonce = request.stdin.decode()  # the observer's secret: stdin, never the plan file
        real = run_locally(request)
        return result(real.channel + f'{{"nonce": "{nonce}", "oops": 1}}\n'.encode())

    report = grade(item, store, REFERENCE, FakeSandbox(garbage))
    assert not report.passed and "could not be read" in (report.message or "")


def test_sandbox_failure_is_status_error(item: CodeItem, store: ReferenceStore) -> None:
    from sandbox.errors import SandboxFailure

    def broken(request):
        raise SandboxFailure("engine went away")

    report = grade(item, store, REFERENCE, FakeSandbox(broken))
    assert report.status.value == "error" and report.verdict is Verdict.INTERNAL_ERROR


def test_notebook_cells_magics_and_cell_numbers(item: CodeItem, store: ReferenceStore) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# My work"},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "!pip install torch\n%matplotlib inline\nimport math",
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "def mean_of(values):\n    return valuez",
        },
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    source = notebook_source(json.dumps(notebook).encode(), "work.ipynb")
    assert source.notes == [  # one note per cell, however many lines it drops
        "cell 2: dropped 2 shell/magic lines, first `!pip install torch` "
        "(they do not run in the grader)"
    ]
    report = grade_code(item, source, FakeSandbox.local(), store)
    assert "(cell 3, line 2: return valuez)" in (report.checks[1].observed or "")  # markdown counts
    assert report.notes == source.notes and "dropped" not in (report.message or "")


@pytest.mark.parametrize(
    "data",
    [b"{not json", b'{"cells": 3}', b"\xff\xfe"],
    ids=["not-json", "not-a-notebook", "not-utf8"],
)
def test_not_a_notebook_is_bad_submission(data: bytes) -> None:
    from grader.errors import BadSubmission

    with pytest.raises(BadSubmission, match="work.ipynb"):
        notebook_source(data, "work.ipynb")


def test_graders_asking_at_once_share_one_reference_run(item: CodeItem, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "solutions" / "mean-of").mkdir(parents=True)
    (tmp_path / "solutions" / "mean-of" / "reference.py").write_text(REFERENCE)
    sandbox = FakeSandbox.local()
    store = ReferenceStore(sandbox, tmp_path / "solutions", tmp_path / "cache")
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: store.observations(item), range(8)))
    assert len(sandbox.requests) == 1 and all(f is found[0] for f in found)
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []


def test_an_unreadable_cached_reference_is_run_again(item: CodeItem, tmp_path: Path) -> None:
    (tmp_path / "solutions" / "mean-of").mkdir(parents=True)
    (tmp_path / "solutions" / "mean-of" / "reference.py").write_text(REFERENCE)
    first = ReferenceStore(FakeSandbox.local(), tmp_path / "solutions", tmp_path / "cache")
    first.observations(item)
    [cached] = (tmp_path / "cache").glob("mean-of-*.json")
    cached.write_text('{"half": ')  # a torn write of an older grader, a bad disk
    store = ReferenceStore(FakeSandbox.local(), tmp_path / "solutions", tmp_path / "cache")
    assert grade(item, store, REFERENCE).verdict is Verdict.PASSED
    written = json.dumps(first.observations(item).by_probe)
    assert json.loads(cached.read_text()) == json.loads(written)
