"""`grader submit`: upload to a course server, wait for the report, exit like `grader check`.

Exit codes are `grader check`'s: 0 passed, 1 graded and not passed, 3 an error report; 2 when the
server refuses the input (unknown question or assignment, a file over the cap, a malformed file, a
bad or missing token, an assignment not open or with no attempt left); 3 when the server cannot be
reached or fails. In an assignment the report is what the server shows the student now: scaled to
the assignment's points, keys and explanations as its reveal rules allow.

Where the server and token come from, first found wins: `--server`/`--token`,
$GRADER_SERVER/$GRADER_TOKEN, then `server = "..."` and `token = "..."` in $GRADER_CONFIG or
~/.config/grader/config.toml.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from grader.cli.render import report_text
from grader.errors import BadInput, BadSubmission, ServerUnavailable
from grader.models import Report

CONFIG_HELP = "$GRADER_CONFIG or ~/.config/grader/config.toml"
#: The most a client reads of a file; the server's own cap (413) is usually lower.
READ_CAP = 16 * 1024 * 1024
WAIT_S = 900.0
RATE_LIMIT_RETRIES = 3


@dataclass(frozen=True)
class Upload:
    """What to submit: a file for a code item, a choice for the other kinds."""

    question: str
    file: Path | None = None
    choice: str | None = None
    assignment: str | None = None


def config_file() -> Path:
    configured = os.environ.get("GRADER_CONFIG")
    return Path(configured) if configured else Path.home() / ".config/grader/config.toml"


def resolve_config(server: str | None, token: str | None) -> tuple[str, str]:
    """The server URL and token from flags, the environment, then the config file."""
    server = server or os.environ.get("GRADER_SERVER")
    token = token or os.environ.get("GRADER_TOKEN")
    if server is None or token is None:
        stored = _read_config(config_file())
        server = server or stored.get("server")
        token = token or stored.get("token")
    if not server:
        raise BadInput(
            f"no server: pass --server URL, set GRADER_SERVER or `server` in {CONFIG_HELP}"
        )
    if not token:
        raise BadInput(f"no token: pass --token T, set GRADER_TOKEN or `token` in {CONFIG_HELP}")
    return str(server).rstrip("/"), str(token)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: not a readable TOML file ({exc}); fix or remove it") from exc


def submit(
    server: str, token: str, work: Upload, *, as_json: bool = False, wait_s: float = WAIT_S
) -> int:
    """Upload, wait for the report, print it; the exit code says how it went."""
    files = _files(work.file)
    data = {"question": work.question} | ({"choice": work.choice} if work.choice else {})
    data |= {"assignment": work.assignment} if work.assignment else {}
    with _client(server, token) as client:
        created = _post(client, data, files)
        print(f"submitted {created['id']} ({_which(created)})", file=sys.stderr)
        view = _wait(client, created["id"], wait_s, Progress(sys.stderr))
    report = Report.model_validate(view["report"])
    print(json.dumps(view["report"], indent=2) if as_json else _report_text(report, view))
    if report.status.value == "error":
        return 3
    return 0 if report.passed else 1


def get_json(server: str, token: str, path: str) -> Any:
    """The JSON body of a GET as the token's student; refusals raise as `submit`'s do."""
    with _client(server, token) as client:
        return _answer(_call(client, "GET", path))


def _client(server: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server, headers=headers, timeout=30.0)


def _which(created: dict[str, Any]) -> str:
    """`QUESTION`, or `QUESTION, ASSIGNMENT attempt N` inside an assignment."""
    if not created.get("assignment"):
        return str(created["question"])
    return f"{created['question']}, {created['assignment']} attempt {created.get('attempt')}"


def _report_text(report: Report, view: dict[str, Any]) -> str:
    """The report as `grader check` prints it; in an assignment, a line on how it counts."""
    if not view.get("assignment"):
        return report_text(report)
    late = view.get("late_penalty") or 0.0
    notes = [f"assignment {view['assignment']}", f"attempt {view.get('attempt')}"]
    notes += [f"{late:.0%} off for lateness"] if late else []
    notes += [f"shown: {view.get('revealed')}"]
    return report_text(report) + "\n  " + " · ".join(notes)


def _files(path: Path | None) -> dict[str, tuple[str, bytes]] | None:
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            content = handle.read(READ_CAP)
    except OSError as exc:
        raise BadSubmission(f"{path}: cannot read the file ({exc.strerror})") from exc
    return {"file": (path.name, content)}


def _post(
    client: httpx.Client, data: dict[str, str], files: dict[str, tuple[str, bytes]] | None
) -> Any:
    """POST the submission; on 429 wait as the server says, a few times, then give up."""
    for _ in range(RATE_LIMIT_RETRIES):
        response = _call(client, "POST", "/v1/submissions", data=data, files=files)
        if response.status_code != 429:
            return _answer(response)
        wait = float(response.headers.get("Retry-After", "5"))
        print(f"rate limited; retrying in {wait:g} s", file=sys.stderr)
        time.sleep(wait)
    return _answer(response)


def _wait(client: httpx.Client, submission_id: str, wait_s: float, progress: Progress) -> Any:
    """Poll until the report is there; backs off from 0.25 s to 2 s between polls."""
    start, delay = time.monotonic(), 0.25
    while True:
        view = _answer(_call(client, "GET", f"/v1/submissions/{submission_id}"))
        elapsed = time.monotonic() - start
        if view.get("status") == "done" and view.get("report"):
            progress.done(elapsed)
            return view
        progress.show(str(view.get("status")), elapsed)
        if elapsed > wait_s:
            raise ServerUnavailable(
                f"no report for {submission_id} after {wait_s:g} s; it stays queued on the "
                f"server: GET {client.base_url}v1/submissions/{submission_id}"
            )
        time.sleep(delay)
        delay = min(2.0, delay * 2)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerUnavailable(f"cannot reach the server at {client.base_url} ({exc})") from exc


def _answer(response: httpx.Response) -> Any:
    """The JSON body of a 2xx; a refusal becomes the error the exit codes need."""
    if response.is_success:
        return response.json()
    try:
        reason = str(response.json().get("error"))
    except (ValueError, AttributeError):
        reason = response.text[:200] or response.reason_phrase
    status = response.status_code
    if status == 401:
        raise BadInput(f"the server refused the token ({reason})")
    if status in (403, 404, 409, 413, 422):
        raise BadInput(f"the server refused the submission: {reason}")
    raise ServerUnavailable(f"the server answered {status}: {reason}")


class Progress:
    """`queued`, `running` and the elapsed time on stderr: one rewritten line on a terminal, a
    line per change (and every 10 s) in a log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last: tuple[str, int] = ("", -1)

    def show(self, status: str, elapsed: float) -> None:
        tick = int(elapsed // 10)
        if self.tty:
            self.stream.write(f"\r{status} · {elapsed:.0f} s   ")
        elif (status, tick) != self.last:
            self.stream.write(f"{status} · {elapsed:.0f} s\n")
        self.stream.flush()
        self.last = (status, tick)

    def done(self, elapsed: float) -> None:
        self.stream.write(f"{chr(13) if self.tty else ''}graded in {elapsed:.1f} s\n")
        self.stream.flush()
