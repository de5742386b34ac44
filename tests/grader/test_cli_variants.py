"""`grader show`, `answer`, `check`, `list` and `init` on items that vary (issue 17): `--seed`
picks the variant, this machine's seed is the default (so `show` and `answer` agree with no flag),
a fixed alias is always its variant, `list` marks what varies, and `show --server` shows the
variant the course server grades."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from grader.bank import load_bank
from grader.cli.app import main
from grader.cli.options import SEED_SPACE
from grader.models import NumericItem
from grader.variants import seeds
from sandbox.settings import SandboxSettings
from tests.grader.items import mcq
from tests.grader.variant_items import CODE_ID, FIXED_ID, NUMERIC_ID, code_course, numeric_item


@pytest.fixture
def bank(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A static mcq and a varying numeric item; the grader's home (its variant secret) and
    cache are the test's own."""
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "bank"
    folder.mkdir()
    mcq(folder)
    numeric_item(folder)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def key(bank: Path, seed: int | None, item_id: str = NUMERIC_ID) -> float:
    item = load_bank([bank]).variant(item_id, seed)
    assert isinstance(item, NumericItem) and item.answer is not None
    return item.answer


def two_seeds_with_different_keys(bank: Path) -> tuple[int, int]:
    first = key(bank, 1)
    other = next(seed for seed in range(2, 50) if abs(key(bank, seed) - first) > 0.01)
    return 1, other


def test_two_seeds_show_different_prompts(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    one, other = two_seeds_with_different_keys(bank)
    shown = [
        run(capsys, "--bank", str(bank), "show", NUMERIC_ID, "--seed", str(s)) for s in (one, other)
    ]
    assert [code for code, _, _ in shown] == [0, 0]
    first, second = (out for _, out, _ in shown)
    assert f"variant: seed {one}" in first and f"variant: seed {other}" in second
    assert first.split("variant:")[1].splitlines()[2] != second.split("variant:")[1].splitlines()[2]
    code, out, _ = run(
        capsys, "--bank", str(bank), "show", NUMERIC_ID, "--seed", str(one), "--json"
    )
    view = json.loads(out)
    assert code == 0 and (view["seed"], view["varies"]) == (one, True) and "answer" not in view


def test_an_answer_right_for_one_seed_is_wrong_for_another(
    capsys: pytest.CaptureFixture[str], bank: Path
) -> None:
    one, other = two_seeds_with_different_keys(bank)
    right = f"{key(bank, one)}"
    code, out, _ = run(capsys, "--bank", str(bank), "answer", NUMERIC_ID, right, "--seed", str(one))
    assert code == 0 and f"variant: seed {one}" in out
    code, out, _ = run(
        capsys, "--bank", str(bank), "answer", NUMERIC_ID, right, "--seed", str(other)
    )
    assert code == 1 and "WRONG_ANSWER" in out and f"variant: seed {other}" in out
    code, out, _ = run(
        capsys, "--bank", str(bank), "answer", NUMERIC_ID, right, "--seed", str(other), "--json"
    )
    report = json.loads(out)
    assert code == 1 and report["variant"]["seed"] == other
    assert set(report["variant"]["values"]) == {"tp", "fp"}


def test_show_and_answer_agree_on_this_machines_seed(
    capsys: pytest.CaptureFixture[str], bank: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "--bank", str(bank), "show", NUMERIC_ID, "--json")
    seed = json.loads(out)["seed"]
    assert code == 0 and seed == seeds.local_seed(NUMERIC_ID, tmp_path / "home")
    assert run(capsys, "--bank", str(bank), "show", NUMERIC_ID, "--json")[1] == out  # stable
    code, out, _ = run(
        capsys, "--bank", str(bank), "answer", NUMERIC_ID, str(key(bank, seed)), "--json"
    )
    assert code == 0 and json.loads(out)["variant"]["seed"] == seed
    secret = tmp_path / "home" / seeds.SECRET_FILE
    assert secret.stat().st_mode & 0o777 == 0o600


def test_list_marks_the_items_that_vary(capsys: pytest.CaptureFixture[str], bank: Path) -> None:
    code, out, _ = run(capsys, "--bank", str(bank), "list", "--json")
    listed = {entry["id"]: entry for entry in json.loads(out)}
    assert code == 0 and {i: e["varies"] for i, e in listed.items()} == {
        "precision-drawn": True,
        "resnet-head": False,
    }
    # As `GET /v1/questions` lists them: a varying item as its example variant, seed 0.
    assert {i: e["seed"] for i, e in listed.items()} == {"precision-drawn": 0, "resnet-head": None}
    code, out, _ = run(capsys, "--bank", str(bank), "list")
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "  varies  " in rows[NUMERIC_ID] and "varies" not in rows["resnet-head"]


@pytest.mark.parametrize("given", ["-1", str(SEED_SPACE), "seven", "1.5"])
def test_a_seed_outside_the_seed_space_is_exit_2(
    capsys: pytest.CaptureFixture[str], bank: Path, given: str
) -> None:
    for command in (["show", NUMERIC_ID], ["answer", NUMERIC_ID, "0.5"]):
        code, out, err = run(capsys, "--bank", str(bank), *command, f"--seed={given}")
        lines = err.strip().splitlines()
        assert (code, out, len(lines)) == (2, "", 1), err
        assert lines[0].startswith("error: argument --seed:") and "0..2**32-1" in lines[0]


def test_the_parsers_seed_space_is_the_engines() -> None:
    assert SEED_SPACE == seeds.SEED_SPACE


def test_a_seed_for_an_item_that_does_not_vary_is_noted_and_ignored(
    capsys: pytest.CaptureFixture[str], bank: Path
) -> None:
    code, out, err = run(capsys, "--bank", str(bank), "answer", "resnet-head", "B", "--seed", "5")
    assert code == 0 and "variant:" not in out
    assert err == "note: 'resnet-head' does not vary: --seed is ignored\n"
    code, out, err = run(capsys, "--bank", str(bank), "show", "resnet-head", "--seed", "5")
    assert code == 0 and "note: 'resnet-head' does not vary" in err


def test_a_fixed_alias_is_its_variant_whatever_the_seed(
    capsys: pytest.CaptureFixture[str], bank: Path
) -> None:
    code, out, err = run(capsys, "--bank", str(bank), "show", FIXED_ID)
    assert (code, err) == (0, "")
    assert "TP = 85, FP = 15" in out and "variant:" not in out
    assert f"grader answer {FIXED_ID} NUMBER" in out  # answered by the id that names it
    assert run(capsys, "--bank", str(bank), "show", FIXED_ID) == (0, out, "")  # cached views
    code, out, err = run(capsys, "--bank", str(bank), "answer", FIXED_ID, "0.85", "--seed", "9")
    assert code == 0 and "does not vary" in err
    code, out, _ = run(capsys, "--bank", str(bank), "answer", FIXED_ID, "0.85", "--json")
    variant = json.loads(out)["variant"]
    assert code == 0 and variant["seed"] is None and variant["values"] == {"tp": 85, "fp": 15}


# ---- show --server ----------------------------------------------------------------------------


class VariantServer(ThreadingHTTPServer):
    """A course server's `GET /v1/items/{id}/variant` on loopback, recording what it was asked."""

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), VariantHandler)
        self.view = view
        self.asked: list[tuple[str, dict[str, list[str]], str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class VariantHandler(BaseHTTPRequestHandler):
    server: VariantServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        url = urlparse(self.path)
        self.server.asked.append((url.path, parse_qs(url.query), self.headers["Authorization"]))
        known = url.path == f"/v1/items/{NUMERIC_ID}/variant"
        body = json.dumps(self.server.view if known else {"error": "unknown item"}).encode()
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def server(bank: Path) -> Iterator[VariantServer]:
    view = load_bank([bank]).variant(NUMERIC_ID, 77).public()
    running = VariantServer(view)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def test_show_server_shows_the_variant_the_server_grades(
    capsys: pytest.CaptureFixture[str], server: VariantServer
) -> None:
    argv = ["show", NUMERIC_ID, "--server", server.url, "--token", "t-1", "--student", "ana"]
    code, out, _ = run(capsys, *argv, "--assignment", "week-1")
    assert code == 0 and "variant: seed 77" in out and server.view["prompt"].strip() in out
    assert f"grader submit {NUMERIC_ID} --choice" in out  # its answers go to the server
    path, query, auth = server.asked[-1]
    assert (path, query, auth) == (
        f"/v1/items/{NUMERIC_ID}/variant",
        {"student": ["ana"], "assignment": ["week-1"]},
        "Bearer t-1",
    )
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0 and json.loads(out) == server.view


def test_show_server_finds_the_server_as_submit_does(
    capsys: pytest.CaptureFixture[str], server: VariantServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_SERVER", server.url)
    monkeypatch.setenv("GRADER_TOKEN", "t-2")
    code, out, _ = run(capsys, "show", NUMERIC_ID, "--server")
    assert code == 0 and "variant: seed 77" in out
    assert server.asked[-1][1:] == ({}, "Bearer t-2")
    code, _, err = run(capsys, "show", "nope", "--server")
    assert code == 2 and err.startswith("error: the server refused") and "unknown item" in err


def test_show_server_refuses_a_seed(
    capsys: pytest.CaptureFixture[str], server: VariantServer
) -> None:
    argv = ["show", NUMERIC_ID, "--server", server.url, "--token", "t", "--seed", "3"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "") and err.startswith("error: --seed with --server")
    assert server.asked == []


# ---- check, init ------------------------------------------------------------------------------


@pytest.mark.torch
def test_check_grades_the_variant_of_the_seed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (SandboxSettings().runtime / "bin" / "python").exists():
        pytest.skip("no sandbox runtime: run `make runtime`")
    folder, solutions = code_course(tmp_path)
    monkeypatch.setenv("GRADER_SOLUTIONS", str(solutions))
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    course = load_bank([folder])
    scales = {seed: course.variant(CODE_ID, seed).variant.values["scale"] for seed in range(8)}  # type: ignore[union-attr]
    one = 0
    other = next(seed for seed, scale in scales.items() if scale != scales[one])
    mine = tmp_path / "mine.py"
    mine.write_text(f"def scaled_sum(values):\n    return sum(values) * {scales[one]}\n")
    argv = ["--bank", str(folder), "check", CODE_ID, str(mine), "--backend", "process"]
    code, out, _ = run(capsys, *argv, "--seed", str(one))
    assert code == 0, out
    assert f"variant: seed {one}" in out and f"is {6 * scales[one]}." in out
    code, out, _ = run(capsys, *argv, "--seed", str(other))
    assert code == 1 and f"variant: seed {other}" in out, out


def test_init_writes_the_variant_it_shows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    folder, _ = code_course(tmp_path)
    code, out, _ = run(capsys, "--bank", str(folder), "init", CODE_ID, "--notebook", "--seed", "4")
    scale = load_bank([folder]).variant(CODE_ID, 4).variant.values["scale"]  # type: ignore[union-attr]
    notebook = (tmp_path / f"{CODE_ID}.ipynb").read_text()
    assert code == 0 and f"times {scale}." in notebook
    assert out.splitlines()[-1].endswith(f"check {CODE_ID} {CODE_ID}.ipynb --seed 4")
