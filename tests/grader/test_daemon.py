"""The warm daemon of `grader check` (issue 18): started on first use, same output and exit code
as one-shot, private to its user, replaced when the code or settings differ, gone when idle,
stopped, or its socket is taken away, and a bank edited on disk is graded as it is now.

Every test runs under a home of its own in /tmp (a Unix socket's path must be short), never the
user's; `grader` runs as a subprocess, as a student runs it, in the checkout's folder. Daemons
that need no warm pool run with GRADER_WARM=0, which makes them start in seconds."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grader.cli import daemon as cli_daemon
from grader.cli.daemon import Checked
from grader.cli.render import report_text
from grader.daemon import protocol
from grader.daemon.client import NotRunning, status, wait_serving
from grader.daemon.paths import DaemonPaths, held
from grader.daemon.protocol import DaemonProblem, receive, send
from grader.daemon.warm import printed
from grader.grading.submission import MAX_SUBMISSION_BYTES
from grader.models import CheckResult, Report, ReportVariant
from sandbox.process.jail import Runtime

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / ".runtime"
ITEM = "binary-metrics"
SOLUTIONS = ROOT / "solutions" / ITEM
REFERENCE = SOLUTIONS / "reference.py"
#: Wrong files whose grade never depends on the random inputs: the swapped precision and recall
#: and the arithmetic-mean F1 pass `random-vectors` whenever the draw has FP = FN.
WRONG = [SOLUTIONS / "wrong_zero_division.py", SOLUTIONS / "wrong_returns_tensors.py"]
#: What a check observed: on inputs drawn afresh for every run (or shuffled, which moves the
#: last digits of a float), it changes from run to run, daemon or not.
DRAWN = re.compile(r"(Observed )\{[^}]*\}")
#: Seconds a daemon may take to serve: a warm one imports torch in two zygotes first.
SERVE_S = 240.0

pytestmark = pytest.mark.torch


@dataclass
class Home:
    """A GRADER_HOME of its own, the environment `grader` runs under in it, and its daemon."""

    path: Path
    env: dict[str, str]

    @property
    def daemon(self) -> DaemonPaths:
        return DaemonPaths(self.path / f".daemon-{os.getuid()}")

    def grader(self, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "grader.cli", *argv, **extra)

    def run(self, *argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """`python ARGV` in the checkout's folder, under this home's environment."""
        command = [sys.executable, *argv]
        return subprocess.run(
            command, cwd=ROOT, env=self.env | extra, capture_output=True, text=True, timeout=600
        )

    def check(self, path: Path, *flags: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return self.grader("check", ITEM, str(path), *flags, **extra)

    def serving(self) -> dict[str, Any]:
        found = wait_serving(self.daemon, SERVE_S)
        assert found is not None, self.log()
        return found

    def status(self) -> dict[str, Any] | None:
        try:
            return status(self.daemon)
        except DaemonProblem:
            return None

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.daemon.log.read_text(errors="replace")
        return "(no log)"

    def close(self) -> None:
        """Stop its daemon (and kill it if it will not), then remove the folder."""
        self.grader("daemon", "stop")
        pid = self.daemon.read_pid()
        if pid is not None and held(self.daemon):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.path, ignore_errors=True)


def make_home(cache: Path, **extra: str) -> Home:
    if Runtime.find(RUNTIME) is None:
        pytest.skip(f"no sandbox runtime at {RUNTIME}: run `make runtime`")
    path = Path(tempfile.mkdtemp(prefix="gd-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env |= {
        "GRADER_HOME": str(path),
        "GRADER_RUNTIME": str(RUNTIME),
        "GRADER_SOLUTIONS": str(ROOT / "solutions"),
        "GRADER_BANK": str(ROOT / "questions"),
        "GRADER_CACHE": str(cache),  # shared: the reference runs once for all the homes
        "GRADER_BACKEND": "process",
        "GRADER_DAEMON": "1",
    }
    return Home(path, env | extra)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def home(cache: Path) -> Iterator[Home]:
    """A home whose daemon starts in seconds (no warm pool): for its life, not its speed."""
    made = make_home(cache, GRADER_WARM="0")
    yield made
    made.close()


@dataclass
class Served:
    home: Home
    first: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def served(cache: Path) -> Iterator[Served]:
    """A home whose first check started a warm daemon, which now serves."""
    made = make_home(cache)
    first = made.check(REFERENCE)
    yield Served(made, first)
    made.close()


def requests(home: Home) -> int:
    found = home.status()
    assert found is not None, home.log()
    return int(found["requests"])


def steady(out: str) -> str:
    """The text without what changes from run to run: the values observed."""
    return DRAWN.sub(r"\1{drawn}", out)


def without_duration(out: str) -> dict[str, Any]:
    """The report's JSON without its duration, the values observed made steady."""
    report = json.loads(out)
    report.pop("duration_s")
    for check in report["checks"]:
        if check["observed"] is not None:
            check["message"], check["observed"] = steady(check["message"]), "observed"
    return dict(report)


# ---- first use, and the same report as one-shot -------------------------------------------


def test_the_first_check_starts_the_daemon_and_still_reports(served: Served) -> None:
    assert served.first.returncode == 0, served.first.stderr
    assert served.first.stdout.startswith(f"PASSED  {ITEM}  10/10")
    assert served.first.stderr == ""
    found = served.home.serving()
    assert found["bank"] == str(ROOT / "questions") and found["backend"] == "process"
    assert found["pool"]["ready"] >= 1, found


@pytest.mark.parametrize("path", [REFERENCE, *WRONG], ids=lambda p: p.stem)
def test_a_served_check_prints_what_one_shot_prints(served: Served, path: Path) -> None:
    home = served.home
    home.serving()
    before = requests(home)
    text, as_json = home.check(path), home.check(path, "--json")
    assert requests(home) == before + 2, home.log()
    alone, alone_json = home.check(path, "--no-daemon"), home.check(path, "--no-daemon", "--json")
    assert (text.returncode, steady(text.stdout), text.stderr) == (
        alone.returncode,
        steady(alone.stdout),
        alone.stderr,
    )
    assert as_json.returncode == alone_json.returncode == (0 if path == REFERENCE else 1)
    assert without_duration(as_json.stdout) == without_duration(alone_json.stdout)
    assert requests(home) == before + 2  # --no-daemon never asked it


def test_a_notebook_is_checked_through_the_daemon(served: Served, tmp_path: Path) -> None:
    home = served.home
    home.serving()
    code = REFERENCE.read_text(encoding="utf-8")
    code_cell: dict[str, Any] = {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
    }
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# my metrics"},
        code_cell | {"source": code},
        code_cell | {"source": "!ls"},
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "mine.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    before = requests(home)
    served_check, alone = home.check(path, "--json"), home.check(path, "--json", "--no-daemon")
    assert requests(home) == before + 1
    assert served_check.returncode == alone.returncode == 0, served_check.stderr
    report = without_duration(served_check.stdout)
    assert report == without_duration(alone.stdout)
    assert report["notes"] and "cell 3" in report["notes"][0]


def test_bad_input_is_the_one_shot_error(served: Served, tmp_path: Path) -> None:
    home = served.home
    home.serving()
    path = tmp_path / "empty.py"
    path.write_text("x = (\n", encoding="utf-8")
    for argv in (
        ["check", "no-such-item", str(path)],
        ["check", "resnet18-output-shape", str(path)],
    ):
        before = requests(home)
        got, alone = home.grader(*argv), home.grader(*argv, "--no-daemon")
        assert (got.returncode, got.stdout, got.stderr) == (2, "", alone.stderr)
        assert alone.returncode == 2 and got.stderr.startswith("error: ")
        assert requests(home) == before + 1


def test_python_and_python3_are_one_grader(served: Served) -> None:
    """The `grader` script runs `python3`, a test `python`: the daemon serves both."""
    home = served.home
    home.serving()
    other = Path(sys.executable).with_name("python3")
    if not other.exists():
        pytest.skip(f"no {other} beside {sys.executable}")
    before = requests(home)
    got = subprocess.run(
        [str(other), "-m", "grader.cli", "check", ITEM, str(REFERENCE)],
        cwd=ROOT,
        env=home.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (got.returncode, got.stderr) == (0, "")
    assert requests(home) == before + 1, home.log()


def test_a_check_whose_client_hung_up_is_dropped(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = served.home
    home.serving()
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(3)\n" + REFERENCE.read_text(encoding="utf-8"))
    for name, value in home.env.items():  # the settings the daemon was made for
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    request = {
        "op": "check",
        "hello": protocol.hello(),
        "config": protocol.config(ROOT / "questions", None),
        "item": ITEM,
        "seed": None,
        "name": "gone.py",
        "data": base64.b64encode(REFERENCE.read_bytes()).decode(),
    }
    before = requests(home)
    with subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "check", ITEM, str(slow)],
        cwd=ROOT,
        env=home.env,
        stdout=subprocess.DEVNULL,
    ) as busy:
        deadline = time.monotonic() + 30
        while _busy(home) < 1:  # the slow check holds the daemon
            assert time.monotonic() < deadline and busy.poll() is None, home.log()
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
            gone.connect(str(home.daemon.socket))
            send(gone, request)  # and hang up while the slow check runs
        assert busy.wait(120) == 0
    deadline = time.monotonic() + 10
    while "check binary-metrics: dropped" not in home.log():
        assert time.monotonic() < deadline, home.log()
        time.sleep(0.1)
    assert requests(home) == before + 1  # the slow one only


def test_another_uid_is_refused(served: Served) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root, to connect as another uid")
    home = served.home
    home.serving()
    before = requests(home)
    paths = [home.path, home.daemon.folder, home.daemon.socket]
    modes = [p.stat().st_mode & 0o7777 for p in paths]
    for path, mode in zip(paths, (0o711, 0o711, 0o666), strict=True):
        path.chmod(mode)  # let the other uid reach the socket: SO_PEERCRED must refuse it
    try:
        answered = _connect_as(65534, home.daemon.socket)
    finally:
        for path, mode in zip(paths, modes, strict=True):
            path.chmod(mode)
    assert answered == "closed"
    assert requests(home) == before and home.status() is not None


def _connect_as(uid: int, path: Path) -> str:
    """In a child that took `uid`: connect, send a status request and say what came back
    (`unreachable`: it could not even connect, and the test would prove nothing)."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        outcome = b"unreachable"
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                outcome = b"closed"  # unless it answers: the daemon may hang up before the send
                send(sock, {"op": "status", "hello": {}})
                receive(sock)
                outcome = b"answered"
        except (OSError, DaemonProblem):
            pass
        finally:
            os.write(writer, outcome)
            os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as out:
        return out.read().decode()


# ---- life: start, replace, clean up, exit ---------------------------------------------------


def test_no_daemon_and_grader_daemon_0_start_none(home: Home) -> None:
    assert home.check(REFERENCE, "--no-daemon").returncode == 0
    assert home.check(REFERENCE, GRADER_DAEMON="0").returncode == 0
    assert not home.daemon.folder.exists()


def test_a_bad_grader_daemon_value_is_a_usage_error(home: Home) -> None:
    got = home.grader("check", ITEM, str(REFERENCE), GRADER_DAEMON="maybe")
    assert got.returncode == 2
    assert got.stderr.startswith("error: bad setting: GRADER_DAEMON='maybe'")


def test_two_first_checks_at_once_start_one_daemon(home: Home) -> None:
    command = [sys.executable, "-m", "grader.cli", "check", ITEM, str(REFERENCE)]
    checks = [
        subprocess.Popen(command, cwd=ROOT, env=home.env, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    assert [check.wait(300) for check in checks] == [0, 0]
    found = home.serving()
    time.sleep(1.0)  # a second daemon, had one got the lock, would be serving by now too
    assert home.log().count("serving on") == 1, home.log()
    again = home.status()
    assert again is not None and again["pid"] == found["pid"]


def test_a_stale_socket_and_pid_file_are_cleaned_up(home: Home) -> None:
    folder = home.daemon.folder
    folder.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:
        left.bind(str(home.daemon.socket))  # a socket file nobody listens on
    home.daemon.pid.write_text("999999\n")
    got = home.check(REFERENCE)
    assert (got.returncode, got.stderr) == (0, ""), got.stderr
    found = home.serving()
    assert found["pid"] != 999999 and home.daemon.read_pid() == found["pid"]


def test_a_check_by_other_code_replaces_the_daemon(home: Home) -> None:
    assert home.grader("daemon", "start").returncode == 0
    old = home.serving()["pid"]
    other = (  # a client whose source differs from the daemon's, as after an upgrade
        "import sys\n"
        "from grader.cli.app import main\n"
        "from grader.daemon import protocol\n"
        "upgraded = protocol.hello() | {'source': 'another checkout'}\n"
        "protocol.hello = lambda: upgraded\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    got = home.run("-c", other, "check", ITEM, str(REFERENCE), "--json")
    assert (got.returncode, got.stderr) == (0, "")
    assert json.loads(got.stdout)["status"] == "passed"  # graded one-shot
    deadline = time.monotonic() + SERVE_S
    while (found := home.status()) is None or found["pid"] == old:
        assert time.monotonic() < deadline, home.log()
        time.sleep(0.2)
    assert found["requests"] == 0 and not _alive(old)


def test_a_served_check_loads_no_pydantic_torch_or_rich(served: Served, tmp_path: Path) -> None:
    home = served.home
    home.serving()
    modules = tmp_path / "modules.json"
    counted = (
        "import json, sys\n"
        "from grader.cli.app import main\n"
        "code = main(sys.argv[1:])\n"
        f"open({str(modules)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    before = requests(home)
    for flags in ([], ["--json"]):
        got = home.run("-c", counted, "check", ITEM, str(REFERENCE), *flags)
        assert got.returncode == 0, got.stderr
        loaded = {name.split(".")[0] for name in json.loads(modules.read_text())}
        assert not loaded & {"pydantic", "pydantic_core", "torch", "rich", "nbformat"}, flags
    assert requests(home) == before + 2


def test_a_changed_bank_is_graded_as_it_is_now(home: Home, tmp_path: Path) -> None:
    bank = tmp_path / "questions"
    shutil.copytree(ROOT / "questions", bank)
    home.env["GRADER_BANK"] = str(bank)
    assert home.grader("daemon", "start").returncode == 0
    assert home.serving()["bank"] == str(bank)
    first = home.check(REFERENCE)
    assert "[PASS] returns-floats:" in first.stdout
    item = bank / "code" / f"{ITEM}.yaml"
    item.write_text(item.read_text().replace("returns-floats", "gives-floats"))
    second = home.check(REFERENCE)
    assert "[PASS] gives-floats:" in second.stdout, second.stdout + second.stderr
    assert requests(home) == 2  # both through the daemon


def test_the_daemon_exits_when_idle(cache: Path) -> None:
    home = make_home(cache, GRADER_WARM="0", GRADER_DAEMON_IDLE_S="2")
    try:
        assert home.grader("daemon", "start").returncode == 0
        home.serving()
        _wait_gone(home, 30)
        assert not home.daemon.socket.exists() and not home.daemon.pid.exists()
    finally:
        home.close()


def test_the_daemon_exits_when_its_socket_is_removed(home: Home) -> None:
    assert home.grader("daemon", "start").returncode == 0
    home.serving()
    home.daemon.socket.unlink()
    _wait_gone(home, 30)


def test_daemon_stop_ends_it_and_status_says_so(home: Home) -> None:
    assert home.grader("daemon", "status").returncode == 3
    started = home.grader("daemon", "start")
    assert started.returncode == 0, started.stderr + home.log()
    pid = home.serving()["pid"]
    shown = home.grader("daemon", "status")
    assert shown.returncode == 0 and shown.stdout.startswith(f"running: pid {pid}, up ")
    assert "warm pool: none (runs are cold)" in shown.stdout
    stopped = home.grader("daemon", "stop")
    assert (stopped.returncode, stopped.stdout) == (0, f"stopped: pid {pid}\n"), (
        stopped.stderr + home.log()
    )
    assert not held(home.daemon) and not _alive(pid)
    gone = home.grader("daemon", "status")
    assert (gone.returncode, gone.stdout) == (3, "not running\n")
    assert home.grader("daemon", "stop").stdout == "not running\n"


def test_a_folder_open_to_others_is_not_used(home: Home) -> None:
    home.daemon.folder.mkdir(mode=0o700)
    home.daemon.folder.chmod(0o755)
    got, alone = home.check(REFERENCE), home.check(REFERENCE, "--no-daemon")
    assert (got.returncode, got.stdout) == (alone.returncode, alone.stdout)
    assert got.stderr == (
        f"note: grader daemon: {home.daemon.folder} is open to other users (mode must be "
        "0700); checked without it\n"
    )
    assert not home.daemon.lock.exists()


# ---- pieces --------------------------------------------------------------------------------


def test_the_client_sends_what_one_shot_reads() -> None:
    assert cli_daemon.MAX_SUBMISSION_BYTES == MAX_SUBMISSION_BYTES


def test_a_reply_prints_what_its_report_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """What the daemon sends back is what one-shot prints of the report, and the report itself
    survives the trip whole (a terminal's rendering and Gradescope's file are made from it)."""
    check = CheckResult(
        name="simple", passed=False, score=0, max_score=1, message="x\x1b[31m", observed="1"
    )
    report = Report(
        question="mean-of",
        status="failed",
        verdict="WRONG_ANSWER",
        score=0.25,
        max_score=1,
        checks=[check],
        duration_s=0.1,
        backend="process",
        output="printed\n",
        explanation="Use **sum**.",
        variant=ReportVariant(seed=3, values={"n": 2}),
    )
    reply = json.loads(json.dumps(printed(report)))  # as it crosses the socket
    checked = Checked(reply["report"], reply["text"], reply["json_text"], reply["exit_code"])
    assert checked.report() == report and checked.exit_code == 1
    assert checked.emit(as_json=False) == 1
    assert capsys.readouterr().out == report_text(report) + "\n"
    assert checked.emit(as_json=True) == 1
    assert capsys.readouterr().out == report.model_dump_json(indent=2) + "\n"


def test_a_frame_over_the_limit_or_cut_short_is_a_daemon_problem() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall((protocol.MAX_FRAME + 1).to_bytes(4, "big"))
        with pytest.raises(DaemonProblem, match="over the"):
            receive(right)
    left, right = socket.socketpair()
    with left, right:
        left.sendall((10).to_bytes(4, "big") + b'{"a"')
        left.close()
        with pytest.raises(DaemonProblem, match="closed mid-message"):
            receive(right)


def test_no_daemon_is_not_running(tmp_path: Path) -> None:
    paths = DaemonPaths(tmp_path / "d").private()
    with pytest.raises(NotRunning):
        status(paths)


def _busy(home: Home) -> int:
    """Warm sandboxes running a check in the home's daemon."""
    found = home.status() or {}
    return int((found.get("pool") or {}).get("busy", 0))


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie no init has reaped yet does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(home: Home, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while held(home.daemon):
        assert time.monotonic() < deadline, home.log()
        time.sleep(0.2)
