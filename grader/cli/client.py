"""`grader submit`, `result` and `history`: a student's work on a course server; and the one HTTP
client every course-server command uses (`get_json`, `post_json`, `fetch`), so refusals map to
exit codes in one place.

`grader submit` uploads, waits for the report and exits like `grader check`: 0 passed, 1 graded and
not passed, 3 an error report; 2 when the server refuses the input (unknown question or
assignment, a file over the cap, a malformed file, a bad or missing token, an assignment not open
or with no attempt left); 3 when the server cannot be reached or fails. In an assignment the
report is what the server shows the student now: scaled to the assignment's points, keys and
explanations as its reveal rules allow. `--json` prints the whole submission as the server shows
it (`GET /v1/submissions/{id}`), its `report` included. `grader result ID` prints one submission
the same way, with the same exit codes, and exit 3 when it has no report yet.

Where the server and token come from, first found wins: `--server`/`--token`,
$GRADER_SERVER/$GRADER_TOKEN, then `server = "..."` and `token = "..."` in $GRADER_CONFIG or
~/.config/grader/config.toml.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from grader.cli.columns import attempt_text, columns_text, exit_code, iso, score_text
from grader.cli.output import emit
from grader.cli.render import Doc, Line, report_doc
from grader.config_file import CONFIG_HELP, read_config
from grader.errors import BadInput, BadSubmission, ServerUnavailable
from grader.models import Report

#: The most a client reads of a file; the server's own cap (413) is usually lower.
READ_CAP = 16 * 1024 * 1024
WAIT_S = 900.0
RATE_LIMIT_RETRIES = 3
#: How long the server is asked to hold one read for the report (its cap is 5 s).
HOLD_S = 4.0


@dataclass(frozen=True)
class Upload:
    """What to submit: a file for a code item, a choice for the other kinds."""

    question: str
    file: Path | None = None
    choice: str | None = None
    assignment: str | None = None


def resolve_config(server: str | None, token: str | None) -> tuple[str, str]:
    """The server URL and token from flags, the environment, then the config file."""
    server = server or os.environ.get("GRADER_SERVER")
    token = token or os.environ.get("GRADER_TOKEN")
    if server is None or token is None:
        stored = read_config()
        server = server or stored.get("server")
        token = token or stored.get("token")
    if not server:
        raise BadInput(
            f"no server: pass --server URL, set GRADER_SERVER or `server` in {CONFIG_HELP}"
        )
    if not token:
        raise BadInput(f"no token: pass --token T, set GRADER_TOKEN or `token` in {CONFIG_HELP}")
    return str(server).rstrip("/"), str(token)


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
    return show_view(view, as_json)


def result(server: str, token: str, submission_id: str, *, as_json: bool = False) -> int:
    """`grader result`: one of the student's submissions, as `submit` prints it."""
    view = get_json(server, token, f"/v1/submissions/{quote(submission_id, safe='')}")
    return show_view(view, as_json)


def show_view(view: dict[str, Any], as_json: bool = False) -> int:
    """Print a submission (the whole view as JSON, or its report as text); exit by the report's
    status, and `ServerUnavailable` (exit 3) while it has no report yet."""
    if as_json:
        print(json.dumps(view, indent=2))
    if view.get("status") != "done" or not view.get("report"):
        raise ServerUnavailable(
            f"no report for {view.get('id')} yet: it is {view.get('status')}; "
            f"ask again later with `grader result {view.get('id')}`"
        )
    report = Report.model_validate(view["report"])
    if not as_json:
        emit(_report_doc(report, view))
    return exit_code(report)


def fetch_variant(
    server: str,
    token: str,
    item_id: str,
    student: str | None = None,
    assignment: str | None = None,
) -> dict[str, Any]:
    """`GET /v1/items/{id}/variant`: the item as the server asks this student (an instructor:
    `student`), with its `seed`; with `assignment`, the variant of their next attempt there.
    Refusals raise as `submit`'s do (exit 2: unknown item, another student's, ...)."""
    query = {"student": student, "assignment": assignment}
    params = {key: value for key, value in query.items() if value is not None}
    path = f"/v1/items/{quote(item_id, safe='')}/variant"
    found: dict[str, Any] = get_json(server, token, path, params)
    return found


HISTORY = ("id", "submitted", "question", "assignment", "status", "verdict", "score")


def history(
    server: str, token: str, query: Mapping[str, str | int | None], *, as_json: bool = False
) -> int:
    """`grader history`: the student's own submissions, newest first, one page of them."""
    params = {key: value for key, value in query.items() if value is not None}
    page = get_json(server, token, "/v1/submissions", params)
    if as_json:
        print(json.dumps(page, indent=2))
        return 0
    rows = [_history_row(view) for view in page["items"]]
    print(columns_text(HISTORY, rows) if rows else "no submissions")
    if page.get("next"):
        print("older submissions not shown: raise --limit", file=sys.stderr)
    return 0


def _history_row(view: dict[str, Any]) -> tuple[str, ...]:
    report = view.get("report") or {}
    return (
        view["id"],
        iso(view["created_at"]),
        view["question"],
        attempt_text(view.get("assignment"), view.get("attempt")),
        view["status"],
        view.get("verdict") or "-",
        score_text(report.get("score"), report.get("max_score")),
    )


def get_json(
    server: str, token: str, path: str, params: Mapping[str, str | int] | None = None
) -> Any:
    """The JSON body of a GET as the token's holder; refusals raise as `submit`'s do."""
    return _json(fetch(server, token, "GET", path, params=params))


def post_json(server: str, token: str, path: str, body: Mapping[str, Any]) -> Any:
    """The JSON body answering a JSON POST; refusals raise as `submit`'s do."""
    return _json(fetch(server, token, "POST", path, json=dict(body)))


def fetch(server: str, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A 2xx response, its body read: exit 2 when the server refuses the request or the token,
    exit 3 when it cannot be reached or fails."""
    with _client(server, token) as client:
        response = _call(client, method, path, **kwargs)
    _refuse(response, "the request")
    return response


def _client(server: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server, headers=headers, timeout=30.0)


def _which(created: dict[str, Any]) -> str:
    """`QUESTION`, or `QUESTION, ASSIGNMENT attempt N` inside an assignment."""
    if not created.get("assignment"):
        return str(created["question"])
    return f"{created['question']}, {created['assignment']} attempt {created.get('attempt')}"


def _report_doc(report: Report, view: dict[str, Any]) -> Doc:
    """The report as `grader check` prints it; in an assignment, a line on how it counts."""
    if not view.get("assignment"):
        return report_doc(report)
    late = view.get("late_penalty") or 0.0
    notes = [f"assignment {view['assignment']}", f"attempt {view.get('attempt')}"]
    notes += [f"{late:.0%} off for lateness"] if late else []
    notes += [f"shown: {view.get('revealed')}"]
    return [*report_doc(report), Line.of("  " + " · ".join(notes))]


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
    """Ask until the report is there: each read is held by the server until the report is
    written or `HOLD_S` pass (`?wait=`), so the report comes as soon as it exists, with no
    fixed poll interval. A server that does not hold reads is asked again after a pause."""
    start, delay = time.monotonic(), 0.05
    while True:
        hold = max(0.0, min(HOLD_S, wait_s - (time.monotonic() - start)))
        asked = time.monotonic()
        path = f"/v1/submissions/{submission_id}?wait={hold:.2f}"
        view = _answer(_call(client, "GET", path))
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
        if time.monotonic() - asked < hold / 2:  # answered at once: no long poll there
            time.sleep(delay)
            delay = min(2.0, delay * 2)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerUnavailable(f"cannot reach the server at {client.base_url} ({exc})") from exc


def _answer(response: httpx.Response) -> Any:
    """The JSON body of a 2xx; a refusal becomes the error the exit codes need."""
    _refuse(response, "the submission")
    return _json(response)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ServerUnavailable(
            f"the server's answer is not JSON ({response.text[:80]!r}); is it a course server?"
        ) from exc


def _refuse(response: httpx.Response, asked: str) -> None:
    """Nothing for a 2xx; else the error the exit codes need: 2 for a refusal, 3 for a failure."""
    if response.is_success:
        return
    try:
        reason = str(response.json().get("error"))
    except (ValueError, AttributeError):
        reason = response.text[:200] or response.reason_phrase
    status = response.status_code
    if status == 401:
        raise BadInput(f"the server refused the token ({reason})")
    if status in (403, 404, 409, 413, 422):
        raise BadInput(f"the server refused {asked}: {reason}")
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
