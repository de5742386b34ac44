"""What the judge does with hostile data: the observer's reader (`grader/probe/harness/derive.py`)
validates every wire value, and the host's channel parser and checks fail closed. Table-driven;
no sandbox and no torch needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.bank import load_item
from grader.errors import ChannelError
from grader.grading.checks import judge
from grader.grading.code import grade_code
from grader.grading.reference import ReferenceStore
from grader.grading.submission import Source
from grader.models import CodeItem, Status, Verdict
from grader.probe.channel import DEPTH_CAP, LINE_CAP, parse_channel
from sandbox.base import RunRequest, RunResult
from sandbox.fake import FakeSandbox, result

sys.path.insert(0, str(Path(__file__).parents[2] / "grader" / "probe" / "harness"))
import derive  # type: ignore[import-not-found]  # noqa: E402
import wire  # type: ignore[import-not-found]  # noqa: E402

NONCE = "n" * 32
DEEP = "[" * 5000 + "]" * 5000
FLOAT = {"type": "float", "mro": ["float", "object"]}
STR = {"type": "str", "mro": ["str", "object"]}


def line(**fields: object) -> str:
    return json.dumps({"nonce": NONCE, **fields})


def lists(levels: int) -> list[object]:
    """`levels` lists, one inside the other."""
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


#: The deepest result the parser takes: the record, observation and result are 3 more levels.
DEEPEST = {"v": lists(DEPTH_CAP - 2)}
#: stdout that makes a load line exactly as long as the parser takes.
LONGEST = "a" * (LINE_CAP - len(line(probe="load", observation={"stdout": ""})))


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 200_000 + "]" * 200_000,
        line(probe="load", observation={"result": {"v": "DEEP"}}).replace('"DEEP"', DEEP),
        line(probe="load", observation={"result": {"value": 1}}, extra=1),
        line(probe="load", observation={"result": "not an object"}),
        line(probe="load", observation={"bogus": 1}),
        line(probe="load", observation={"result": {"v": float("inf")}}).replace("Infinity", "NaN"),
        line(probe="nobody", observation={}),
        line(probe="load", observation={}) + "\n" + line(probe="load", observation={}),
        line(done=True) + "\n" + line(probe="load", observation={}),
        json.dumps({"nonce": "x" * 32, "done": True}),
        "\xff\xfe",
        "x" * (5 << 20),
        line(probe="load", observation={"result": {"v": [DEEPEST["v"]]}}),
        line(probe="load", observation={"stdout": LONGEST + "a"}),
        line(probe="load", observation={"result": {"v": float("-inf")}}),
        json.dumps({"done": True}),
        "[1, 2]",
        line(probe="load"),
        line(done=False),
        line(done=True, probe="load", observation={}),
        line(probe="load", observation={"stdout": 5}),
        line(probe="load", observation={"error": "boom"}),
    ],
    ids=[
        "deep-json", "deep-observation", "extra-field", "result-not-object", "unknown-field",
        "nan", "unknown-probe", "twice", "after-done", "wrong-nonce", "not-utf8", "huge-line",
        "one-past-depth-cap", "one-past-line-cap", "minus-infinity", "no-nonce", "not-an-object",
        "probe-without-observation", "done-false", "done-and-probe", "stdout-not-text",
        "error-not-object",
    ],
)  # fmt: skip
def test_a_bad_channel_raises_channel_error(raw: str) -> None:
    data = raw.encode("latin-1") if raw.startswith("\xff") else raw.encode()
    with pytest.raises(ChannelError):
        parse_channel(data, NONCE, [])


INT = {"type": "int", "value": 1}
DONE = line(done=True)
GOOD = {
    "load-and-done": (
        [line(probe="load", observation={"stdout": "hi", "result": INT}), DONE],
        {"load": {"stdout": "hi", "result": INT}},
    ),
    "planned-probes": (
        [
            line(probe="simple", observation={"result": INT}),
            line(probe="load", observation={}),
            DONE,
        ],
        {"simple": {"stdout": "", "result": INT}, "load": {"stdout": ""}},
    ),
    "blank-lines": (
        ["", line(probe="load", observation={}), "  ", DONE, ""],
        {"load": {"stdout": ""}},
    ),
    "nulls-dropped": (
        [line(probe="load", observation={"result": None, "error": None}), DONE],
        {"load": {"stdout": ""}},
    ),
    "error": (
        [line(probe="simple", observation={"error": {"type": "ValueError"}}), DONE],
        {"simple": {"stdout": "", "error": {"type": "ValueError"}}},
    ),
    "unreadable": (
        [line(probe="load", observation={"unreadable": "frame too large"}), DONE],
        {"load": {"stdout": "", "unreadable": "frame too large"}},
    ),
    "cut-short": ([line(probe="load", observation={})], {"load": {"stdout": ""}}),
    "nothing": ([], {}),
    "at-depth-cap": (
        [line(probe="load", observation={"result": DEEPEST}), DONE],
        {"load": {"stdout": "", "result": DEEPEST}},
    ),
    "at-line-cap": (
        [line(probe="load", observation={"stdout": LONGEST}), DONE],
        {"load": {"stdout": LONGEST}},
    ),
}


@pytest.mark.parametrize(("lines", "observed"), GOOD.values(), ids=GOOD.keys())
def test_a_good_channel_parses(lines: list[str], observed: dict[str, dict[str, object]]) -> None:
    found = parse_channel("\r\n".join(lines).encode(), NONCE, ["simple"])
    assert found.by_probe == observed
    assert found.done is (DONE in lines)
    assert found.unreadable() == observed.get("load", {}).get("unreadable")


@pytest.mark.parametrize(
    ("value", "observed"),
    [
        ({"t": "float", "v": 0.5}, FLOAT | {"value": 0.5}),
        ({"t": "float", "v": "inf"}, FLOAT | {"value": {"$float": "inf"}}),
        ({"t": "int", "v": 3}, {"type": "int", "mro": ["int", "object"], "value": 3}),
        ({"t": "str", "v": "a" * 9000}, STR | {"value": "a" * 4000}),
        (
            {"t": "dict", "items": [["k", {"t": "float", "v": 1.0}]], "length": 1},
            {"type": "dict", "mro": ["dict", "object"], "items": {"k": FLOAT | {"value": 1.0}}},
        ),
        (
            {"t": "object", "class": "x.float", "mro": ["x.float", "object"], "repr": "1"},
            {"type": "x.float", "mro": ["x.float", "object"], "repr": "1"},
        ),
        (
            {"t": "float", "v": 0.25, "class": "numpy.float64"},
            {"type": "numpy.float64", "mro": ["numpy.float64", "numpy.floating", "numpy.inexact",
             "numpy.number", "numpy.generic", "float", "object"],
             "value": 0.25},
        ),
    ],
    ids=["float", "inf", "int", "long-string", "dict", "object-named-float", "numpy-float"],
)  # fmt: skip
def test_the_reader_describes_data_itself(value: dict, observed: dict) -> None:
    assert derive.Reader(b"").observe(value) == observed


@pytest.mark.parametrize(
    "value",
    [
        "not an object",
        {"t": "float", "v": "oops"},
        {"t": "int", "v": True},
        {"t": "int", "v": "3"},
        {"t": "list", "items": "abc", "length": 3},
        {"t": "dict", "items": [[1, {"t": "none"}]], "length": 1},
        {"t": "tensor", "class": "torch.Tensor", "mro": [], "dtype": "float32", "shape": [2],
         "device": "cpu", "requires_grad": False, "data": [0, 8]},
        {"t": "pickle", "v": "gASVAAAA"},
        {"t": "module", "class": "M", "mro": [], "training": "yes", "params": [], "modules": []},
        {"t": "float", "v": 0.5, "class": "float"},
        {"t": "int", "v": 1, "class": "numpy.float64"},
        {"t": "str", "v": "1", "class": "numpy.str_"},
    ],
    ids=["not-object", "float-text", "bool-as-int", "int-text", "items-not-list", "key-not-text",
         "tensor-bytes-missing", "unknown-tag", "training-not-bool", "float-classed-float",
         "int-classed-numpy-float", "str-classed-numpy"],
)  # fmt: skip
def test_the_reader_refuses_malformed_values(value: object) -> None:
    with pytest.raises(wire.WireError):
        derive.Reader(b"").observe(value)


def test_a_frame_beyond_the_caps_is_refused() -> None:
    with pytest.raises(wire.WireError):
        wire.parse_frame(wire.PREFIX.pack(wire.MAGIC, wire.HEADER_CAP + 1, 0))
    with pytest.raises(wire.WireError):
        wire.parse_frame(wire.PREFIX.pack(b"XXXX", 1, 0))
    with pytest.raises(wire.WireError):
        wire.load_header(b"[" * 100_000 + b"]" * 100_000)


ITEM = """\
schema_version: 1
id: labels
kind: code
title: Labels
prompt: Define predict().
difficulty: easy
explanation: Any.
starter: "def predict(): ..."
contract: [{name: predict, signature: "predict() -> list"}]
checks:
  - name: accuracy
    message: Predictions score.
    call: {function: predict}
    expect: {accuracy: {labels: labels.json, at_least: 1.0}}
"""


@pytest.mark.parametrize(
    "values",
    [[{"$float": "inf"}, 1.0], [{"$float": "nan"}, 0], [1e308, "x"], [[1], {"a": 1}]],
    ids=["inf", "nan", "huge", "nested"],
)
def test_hostile_values_are_a_failed_report_not_a_grader_error(
    tmp_path: Path, values: list[object]
) -> None:
    """Once an OverflowError in the judge, exit 3: now the submission fails (exit 1)."""
    path = tmp_path / "labels.yaml"
    path.write_text(ITEM)
    item, _ = load_item(path)
    assert isinstance(item, CodeItem)
    (tmp_path / "solutions" / "labels").mkdir(parents=True)
    (tmp_path / "solutions" / "labels" / "labels.json").write_text("[1, 0]")

    def answer(request: RunRequest) -> RunResult:
        nonce = request.stdin.decode()
        items = [{"type": "float", "value": v} for v in values]
        lines = [
            {"nonce": nonce, "probe": "load", "observation": {"result": {"type": "module"}}},
            {
                "nonce": nonce,
                "probe": "accuracy",
                "observation": {"result": {"type": "list", "items": items}},
            },
            {"nonce": nonce, "done": True},
        ]
        return result("".join(json.dumps(x) + "\n" for x in lines).encode())

    store = ReferenceStore(FakeSandbox(answer), tmp_path / "solutions", tmp_path / "cache")
    report = grade_code(item, Source("def predict(): ..."), FakeSandbox(answer), store)
    assert report.status is Status.FAILED and report.verdict is not Verdict.PASSED


def test_judge_reads_exact_builtin_types() -> None:
    from grader.models import Check

    check = Check.model_validate(
        {"name": "t", "message": "m", "eval": "x", "expect": {"types": {"a": "float"}}}
    )
    fake = {"result": {"type": "dict", "items": {"a": {"type": "x.float", "mro": ["x.float"]}}}}
    real = {"result": {"type": "dict", "items": {"a": {"type": "float", "mro": ["float"]}}}}
    assert not judge(check, fake).passed
    assert judge(check, real).passed


@pytest.mark.parametrize(
    ("make", "tag", "number"),
    [
        ("numpy.float64(0.5)", "float", 0.5),
        ("numpy.float32(0.25)", "float", 0.25),
        ("numpy.int64(-3)", "int", -3),
        ("numpy.uint8(200)", "int", 200),
        ("numpy.bool_(True)", "bool", True),
        ("numpy.float64('nan')", "float", "nan"),
    ],
)
def test_a_numpy_scalar_crosses_as_its_number(make: str, tag: str, number: object) -> None:
    """What the runner's encoder sends for a numpy scalar, read back by the observer: the number,
    numpy's class its type and numpy's own class chain (so an exact type check still fails it,
    as a 0-d tensor)."""
    runtime = Path(__file__).parents[2] / ".runtime" / "bin" / "python"
    if not runtime.exists():
        pytest.skip("no sandbox runtime (numpy): run `make runtime`")
    script = (
        f"import json, sys, numpy; sys.path.insert(0, {str(Path(wire.__file__).parent)!r}); "
        f"import wire; value = {make}; "
        "print(json.dumps([wire.Encoder().value(value), wire.mro(type(value))]))"
    )
    done = subprocess.run([runtime, "-c", script], capture_output=True, check=True)
    sent, chain = json.loads(done.stdout)
    assert sent["t"] == tag and sent["v"] == number and sent["class"].startswith("numpy.")
    seen = derive.Reader(b"").observe(sent)
    assert seen["type"] == sent["class"] and seen["mro"] == chain
