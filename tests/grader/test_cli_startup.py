"""What `grader --help`, `list`, `show` and `answer` load: building the parser imports no
command's machinery, a bank whose views are cached is listed and shown without pydantic or
ruamel.yaml, and an mcq or numeric answer is graded without a sandbox, the settings or the rest
of the bank (issue 16: those commands took 2 s, now a fraction). Behaviour, not timing: the
modules a fresh interpreter ends up with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.cli import options
from grader.cli.app import main
from grader.cli.views import bank_folder, cache_folder
from grader.models import Difficulty, Verdict
from grader.settings import with_flags
from sandbox.backends import BACKENDS
from tests.grader.items import mcq, numeric, small_bank

ROOT = Path(__file__).resolve().parents[2]
#: Never loaded to build the parser or to list or show a bank with current cached views.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "ruamel.yaml",
    "sqlalchemy",
    "fastapi",
    "celery",
    "docker",
    "torch",
    "httpx",
    "rich",
    "grader.models",
    "grader.bank",
    "sandbox.settings",
)
#: Never loaded to grade an mcq or numeric answer to an item of a bank with current cached views:
#: no sandbox, no notebook reader, no settings (pydantic-settings), no YAML parser, no code item.
NOT_TO_ANSWER = (
    "nbformat",
    "jsonschema",
    "sandbox.backends",
    "sandbox.process",
    "sandbox.container",
    "sandbox.settings",
    "docker",
    "torch",
    "sqlalchemy",
    "fastapi",
    "celery",
    "httpx",
    "pydantic_settings",
    "ruamel.yaml",
    "grader.settings",
    "grader.models.code",
    "grader.grading.code",
    "grader.grading.predict",
)
PROBE = """\
import json, sys
from grader.cli.app import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
heavy = json.loads(sys.argv[2])
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
sys.stderr.write("\\nLOADED " + json.dumps({"codes": codes, "loaded": loaded}) + "\\n")
"""


def fresh(
    commands: list[list[str]], cache: Path, heavy: tuple[str, ...] = HEAVY
) -> tuple[dict[str, list[object]], str]:
    """Run `main` on each command in a new interpreter; what it returned and which of `heavy`
    it loaded, and its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env["GRADER_CACHE"] = str(cache)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(heavy)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    found = json.loads(proc.stderr.split("\nLOADED ")[-1])
    return found, proc.stdout


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    return small_bank(tmp_path)


def test_help_builds_the_parser_without_loading_any_command(tmp_path: Path) -> None:
    found, out = fresh([["--help"], ["list", "--help"], ["check", "--help"]], tmp_path)
    assert found == {"codes": [0, 0, 0], "loaded": []}
    assert "{easy,medium,hard}" in out and "{process,docker}" in out


def test_list_and_show_of_a_cached_bank_load_nothing_heavy(bank: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, first_out = fresh([["--bank", str(bank), "list"]], cache)
    assert first["codes"] == [0] and "grader.models" in first["loaded"]  # it loaded the bank
    commands = [
        ["--bank", str(bank), "list"],
        ["--bank", str(bank), "show", "resnet-head"],
        ["--bank", str(bank), "list", "--json", "--difficulty", "easy"],
    ]
    found, out = fresh(commands, cache)
    assert found == {"codes": [0, 0, 0], "loaded": []}
    assert out.startswith(first_out)  # the cached views list the bank as loading it did
    assert "model.fc" in out and json.loads(out[out.index("\n[") :])[0]["id"] == "resnet-head"


def test_show_of_a_code_item_loads_no_bank_either(tmp_path: Path) -> None:
    fresh([["show", "top1-from-logits"]], tmp_path)
    found, out = fresh([["show", "top1-from-logits"]], tmp_path)
    assert found["codes"] == [0] and "Starter code:" in out
    # What the sandbox can import is read with its settings (sandbox/packages.py): pydantic
    # comes with them, but neither the bank, its models nor ruamel.yaml.
    roots = {m.split(".")[0] for m in found["loaded"]}
    assert roots <= {"sandbox", "pydantic", "pydantic_core", "pydantic_settings"}


def test_an_mcq_or_numeric_answer_loads_no_sandbox_and_grades_as_the_bank_does(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "bank"
    folder.mkdir()
    mcq(folder, **{"answer: B": "answer: B\naliases: [last-layer]"})
    numeric(folder)
    cache = tmp_path / "cache"
    answers = [
        ["resnet-head", "B"],
        ["resnet-head", "a"],
        ["last-layer", "B"],
        ["precision-85", "85%"],
    ]
    commands = [["--bank", str(folder), "answer", *answer] for answer in answers]
    first, first_out = fresh(commands, cache, NOT_TO_ANSWER)  # loads the bank, keeps its views
    assert first["codes"] == [0, 1, 0, 0] and "ruamel.yaml" in first["loaded"]
    found, out = fresh(commands, cache, NOT_TO_ANSWER)
    assert found == {"codes": [0, 1, 0, 0], "loaded": []}
    assert out == first_out and "Right, ResNets end with `fc`." in out


def test_an_answer_is_graded_against_the_item_file_as_it_is_now(tmp_path: Path) -> None:
    folder = tmp_path / "bank"
    folder.mkdir()
    mcq(folder)
    cache = tmp_path / "cache"
    command = ["--bank", str(folder), "answer", "resnet-head", "C"]
    assert fresh([command, command], cache)[0]["codes"] == [1, 1]  # the second from the cache
    mcq(folder, **{"answer: B": "answer: C"})
    assert fresh([command], cache)[0]["codes"] == [0]


@pytest.mark.parametrize(
    ("env", "local", "flag"),
    [
        ({}, False, None),
        ({}, True, None),
        ({"GRADER_BANK": "elsewhere/q"}, True, None),
        ({"GRADER_HOME": "/srv/grader"}, False, None),
        ({"GRADER_HOME": "/srv/grader", "GRADER_CACHE": "/var/cache/g"}, False, None),
        ({"GRADER_BANK": "elsewhere/q"}, False, Path("mine")),
    ],
    ids=["home", "local-questions", "variable", "grader-home", "cache-variable", "flag"],
)
def test_the_fast_path_finds_the_folders_the_settings_do(
    env: dict[str, str],
    local: bool,
    flag: Path | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    if local:
        (tmp_path / "questions").mkdir()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = with_flags(flag)
    assert (bank_folder(flag), cache_folder()) == (settings.bank, settings.cache)


def test_the_choices_written_out_are_those_of_their_source() -> None:
    assert options.BACKENDS == BACKENDS
    assert options.DIFFICULTIES == tuple(Difficulty)
    assert options.VERDICTS == tuple(Verdict)


@pytest.mark.parametrize(
    ("argv", "choices"),
    [
        (["list", "--difficulty", "hardest"], "'easy', 'medium', 'hard'"),
        (["answer", "x", "A", "--backend", "podman"], "'process', 'docker'"),
        (["course", "submissions", "--verdict", "OK"], "'PASSED', 'WRONG_ANSWER'"),
    ],
    ids=["difficulty", "backend", "verdict"],
)
def test_a_value_not_among_the_choices_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], choices: str
) -> None:
    assert main(argv) == 2
    assert choices in capsys.readouterr().err
