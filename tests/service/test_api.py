"""The student API and `grader submit`.

The API's behaviour (auth, validation, caps, rate limits, reports, questions) is tested on the
app in process; `grader submit` runs in process too, its HTTP client routed to that app. A real
`grader serve` on loopback is kept where the process or the socket is the point: the command end
to end, code graded in the real sandbox, and a chunked body cut off on uvicorn's own socket.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import grader.cli.client
from grader.bank import load_bank
from grader.cli.app import main
from grader.models import McqItem
from grader.ops.loopback import ServerProcess, run_grader
from tests.service.conftest import InProcess, TestClient, bearer

REPO = Path(__file__).resolve().parents[2]
MCQ = "finetuning-purpose"
CODE = "binary-metrics"
REFERENCE = REPO / "solutions" / CODE / "reference.py"
WRONG = REPO / "solutions" / CODE / "wrong_swapped_precision_recall.py"
#: Where `grader submit` finds the app in process (TestClient's own host name).
IN_PROCESS = "http://testserver"


def student() -> str:
    return f"student-{secrets.token_hex(4)}"


def letters() -> tuple[str, str]:
    """The MCQ's key and one wrong letter."""
    item = load_bank().get(MCQ)
    assert isinstance(item, McqItem)
    wrong = next(letter for letter in item.letters if letter != item.answer)
    return item.answer, wrong


@dataclass(frozen=True)
class Done:
    """What a `grader` command run in process returned and printed."""

    returncode: int
    stdout: str
    stderr: str


Grader = Callable[..., Done]


@pytest.fixture
def grader_cli(
    app: InProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Grader:
    """`grader ARGV...` in process, `GRADER_*` settings as keywords; `grader submit`'s HTTP
    client is answered by the app in process (at IN_PROCESS) instead of a socket."""

    def routed(base_url: str, headers: dict[str, str], timeout: float) -> TestClient:
        return TestClient(app.app, base_url=base_url, headers=headers)

    shim = SimpleNamespace(Client=routed, HTTPError=httpx.HTTPError)
    monkeypatch.setattr(grader.cli.client, "httpx", shim)

    def run(*argv: str, **env: str) -> Done:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def submit(run: Grader, token: str, *argv: str) -> Done:
    return run("submit", *argv, "--server", IN_PROCESS, "--token", token)


def one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def post(http: httpx.Client, **form: Any) -> httpx.Response:
    files = form.pop("files", None)
    return http.post("/v1/submissions", data=form, files=files)


def error_of(response: httpx.Response) -> str:
    """The one-line reason every refusal carries."""
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"], body
    return str(body["error"])


def client_of(app: InProcess, token: str | None = None) -> TestClient:
    """A client of the app in process, as `token`'s student (use it in a `with`)."""
    return TestClient(app.app, headers=bearer(token))


@pytest.fixture
def http(app: InProcess) -> Iterator[TestClient]:
    with client_of(app, app.token(student())) as client:
        yield client


# -- `grader submit` ------------------------------------------------------------------------


@pytest.mark.parametrize(("pick", "code", "verdict"), [(0, 0, "PASSED"), (1, 1, "WRONG_ANSWER")])
def test_submit_mcq_prints_the_report_and_exits_like_check(
    app: InProcess, grader_cli: Grader, pick: int, code: int, verdict: str
) -> None:
    done = submit(grader_cli, app.token(student()), MCQ, "--choice", letters()[pick])
    assert done.returncode == code, done.stderr
    assert done.stdout.startswith(f"{verdict}  {MCQ}")
    assert "Explanation:" in done.stdout
    assert "queued" in done.stderr or "running" in done.stderr or "graded in" in done.stderr


def test_submit_json_with_token_from_the_environment(app: InProcess, grader_cli: Grader) -> None:
    token = app.token(student())
    done = grader_cli(
        "submit",
        MCQ,
        "--choice",
        letters()[0],
        "--json",
        GRADER_TOKEN=token,
        GRADER_SERVER=IN_PROCESS,
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)  # the whole submission, its report inside
    report = view["report"]
    assert report["status"] == "passed" and report["verdict"] == "PASSED"
    assert report["question"] == MCQ and report["submission"] == view["id"]
    assert view["id"].startswith("sub_") and view["status"] == "done"


def test_submit_reads_server_and_token_from_the_config_file(
    app: InProcess, grader_cli: Grader, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'server = "{IN_PROCESS}"\ntoken = "{app.token(student())}"\n')
    done = grader_cli("submit", MCQ, "--choice", letters()[1], GRADER_CONFIG=str(config))
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("WRONG_ANSWER")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["no-such-question", "--choice", "A"], "unknown question id 'no-such-question'"),
        ([MCQ, "--choice", "Z"], "not one of"),
        ([CODE, "--choice", "A"], "code exercise"),
        ([CODE, "missing.py"], "cannot read the file"),
    ],
    ids=["unknown-question", "bad-letter", "choice-for-code", "missing-file"],
)
def test_submit_bad_input_exits_2(
    app: InProcess, grader_cli: Grader, argv: list[str], needle: str
) -> None:
    done = submit(grader_cli, app.token(student()), *argv)
    assert done.returncode == 2, done.stderr
    assert needle in one_error_line(done.stderr)


def test_submit_with_a_bad_token_exits_2(grader_cli: Grader) -> None:
    done = submit(grader_cli, "gt_not-a-token", MCQ, "--choice", "A")
    assert done.returncode == 2
    assert "refused the token" in one_error_line(done.stderr)


def test_submit_to_no_server_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["submit", MCQ, "--choice", "A", "--server", "http://127.0.0.1:9", "--token", "t"]
    assert main(argv) == 3
    assert "cannot reach the server" in one_error_line(capsys.readouterr().err)


def test_grader_submit_against_a_real_grader_serve(live_server: ServerProcess) -> None:
    """The two commands end to end: `grader submit` in a process of its own, over a socket."""
    token = live_server.token(student())
    done = run_grader(
        "submit", MCQ, "--choice", letters()[0], "--server", live_server.url, "--token", token
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"PASSED  {MCQ}")
    assert "Explanation:" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "code", "verdict"), [(REFERENCE, 0, "PASSED"), (WRONG, 1, "WRONG_ANSWER")]
)
def test_submit_code_grades_in_the_sandbox(
    live_server: ServerProcess, path: Path, code: int, verdict: str
) -> None:
    token = live_server.token(student())
    done = run_grader("submit", CODE, str(path), "--server", live_server.url, "--token", token)
    assert done.returncode == code, done.stderr
    assert done.stdout.startswith(f"{verdict}  {CODE}")
    assert "[PASS] returns-floats" in done.stdout


# -- the student API ------------------------------------------------------------------------


def test_another_students_submission_is_404_like_an_unknown_one(app: InProcess) -> None:
    with client_of(app, app.token(student())) as alice:
        created = post(alice, question=MCQ, choice="A")
        assert created.status_code == 202, created.text
        mine = alice.get(f"/v1/submissions/{created.json()['id']}")
        assert mine.status_code == 200 and mine.json()["question"] == MCQ
    with client_of(app, app.token(student())) as mallory:
        theirs = mallory.get(f"/v1/submissions/{created.json()['id']}")
        unknown = mallory.get("/v1/submissions/sub_doesnotexist")
    assert theirs.status_code == unknown.status_code == 404
    assert "report" not in theirs.json() and created.json()["id"] in error_of(theirs)


@pytest.mark.parametrize("token", [None, "gt_forged"], ids=["missing", "unknown"])
def test_without_a_valid_token_401(app: InProcess, token: str | None) -> None:
    with client_of(app, token) as http:
        for response in (post(http, question=MCQ, choice="A"), http.get("/v1/submissions/x")):
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "token" in error_of(response).lower()


def test_oversized_upload_413_by_content_length(http: TestClient) -> None:
    big = b"#" * (2 * 1024 * 1024)
    response = post(http, question=CODE, files={"file": ("big.py", big)})
    assert response.status_code == 413
    assert "larger than" in error_of(response)


def test_oversized_chunked_upload_413_while_streaming(live_server: ServerProcess) -> None:
    """No Content-Length: the cap counts the bytes as they arrive. On uvicorn's own socket, so
    the 413 must reach a client that is still sending."""
    boundary = "cap-test"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="question"\r\n\r\n{CODE}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.py"\r\n\r\n'
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(64):
            yield b"#" * 65536

    with live_server.client(live_server.token(student())) as http:
        response = http.post(
            "/v1/submissions",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert response.status_code == 413
    assert "larger than" in error_of(response)


def test_upload_just_over_the_file_cap_413(http: TestClient) -> None:
    """Within the form's overhead allowance but over the file cap itself."""
    response = post(http, question=CODE, files={"file": ("a.py", b"#" * (1024 * 1024 + 1))})
    assert response.status_code == 413
    assert "file larger than" in error_of(response)


@pytest.mark.parametrize(
    ("form", "needle"),
    [
        ({"question": CODE, "files": {"file": ("a.ipynb", b"not json")}}, "not a Jupyter notebook"),
        ({"question": CODE, "files": {"file": ("a.txt", b"x = 1")}}, "submit a .py or .ipynb"),
        ({"question": MCQ, "files": {"file": ("a.py", b"x = 1")}}, "answered with a choice"),
        ({"question": CODE, "choice": "A"}, "is a code exercise"),
        ({"question": MCQ, "choice": "Z"}, "not one of"),
        ({"question": MCQ, "choice": "A", "files": {"file": ("a.py", b"")}}, "not both"),
        ({"choice": "A"}, "question: Field required"),
    ],
    ids=[
        "not-a-notebook",
        "wrong-suffix",
        "file-for-mcq",
        "choice-for-code",
        "bad-letter",
        "both",
        "no-question",
    ],
)
def test_malformed_submissions_422_with_the_reason(
    http: TestClient, form: dict[str, Any], needle: str
) -> None:
    response = post(http, **form)
    assert response.status_code == 422
    assert needle in error_of(response)


def test_malformed_body_422(http: TestClient) -> None:
    response = http.post(
        "/v1/submissions", content=b"{not a form", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "question" in error_of(response)


def test_unknown_question_404(http: TestClient) -> None:
    response = post(http, question="no-such-question", choice="A")
    assert response.status_code == 404
    assert "unknown question id" in error_of(response)


def test_rate_limit_429_with_retry_after(make_app: Callable[..., InProcess]) -> None:
    app = make_app(student_burst=2, student_rate=0.01)
    with client_of(app, app.token("flooder")) as http:
        answers = [post(http, question=MCQ, choice="A") for _ in range(3)]
    with client_of(app, app.token("bystander")) as other:
        unaffected = post(other, question=MCQ, choice="A")
    assert [r.status_code for r in answers] == [202, 202, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert "too many submissions" in error_of(answers[2])
    assert unaffected.status_code == 202


def test_questions_are_public_views_without_keys(app: InProcess) -> None:
    bank = load_bank()
    with client_of(app) as http:
        listed = http.get("/v1/questions").json()
    assert [q["id"] for q in listed] == sorted(bank.items)
    for view in listed:
        item = bank.get(view["id"])
        assert view == {"varies": False, "seed": None} | item.public()
        assert not {"answer", "explanation", "tolerance", "verify"} & set(view)
        text = json.dumps(view)
        assert item.explanation.strip()[:60] not in text
        if isinstance(item, McqItem):
            assert all(choice.feedback not in text for choice in item.choices)
            assert all(set(c) == {"letter", "text"} for c in view["choices"])
        for check in view.get("checks", []):
            assert set(check) == {"name", "points", "message"}


def test_metrics_count_queue_latency_and_verdicts(app: InProcess, grader_cli: Grader) -> None:
    token = app.token(student())
    assert submit(grader_cli, token, MCQ, "--choice", letters()[0]).returncode == 0
    with client_of(app) as http:
        text = http.get("/metrics").text
    assert 'grader_queue_depth{status="queued"}' in text
    assert 'grader_queue_depth{status="running"}' in text
    assert 'grader_grading_seconds_bucket{le="+Inf"}' in text
    passed = [
        line
        for line in text.splitlines()
        if line.startswith('grader_reports_total{verdict="PASSED"}')
    ]
    assert passed and float(passed[0].split()[-1]) >= 1


def test_health_and_openapi(app: InProcess) -> None:
    with client_of(app) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/submissions", "/v1/submissions/{submission_id}", "/v1/questions"} <= set(paths)
    assert "/v1/lms/submissions" in paths


# -- held reads (long poll) -----------------------------------------------------------------


def _slow_job(request: Any) -> Any:
    """A sandbox run that takes a while, so a read right after the submit finds it unfinished."""
    import time

    from sandbox.fake import result

    time.sleep(0.6)
    return result()


def test_a_held_read_answers_when_the_report_is_written(
    make_app: Callable[..., InProcess],
) -> None:
    app = make_app(handler=_slow_job)
    with client_of(app, app.token(student())) as alice:
        created = post(alice, question=CODE, files={"file": ("s.py", REFERENCE.read_bytes())})
        assert created.status_code == 202, created.text
        where = f"/v1/submissions/{created.json()['id']}"
        at_once = alice.get(where)
        held = alice.get(where, params={"wait": 5})
    assert at_once.json()["status"] != "done"  # without `wait` the read does not wait
    assert held.status_code == 200 and held.json()["status"] == "done"
    assert held.json()["report"] is not None


def test_a_held_read_of_another_students_submission_is_404_at_once(app: InProcess) -> None:
    with client_of(app, app.token(student())) as alice:
        created = post(alice, question=MCQ, choice="A")
    with client_of(app, app.token(student())) as mallory:
        theirs = mallory.get(f"/v1/submissions/{created.json()['id']}", params={"wait": 5})
    assert theirs.status_code == 404


@pytest.mark.parametrize("wait", ["-1", "5.5", "soon"])
def test_a_wait_outside_0_to_5_seconds_is_422(app: InProcess, wait: str) -> None:
    with client_of(app, app.token(student())) as alice:
        created = post(alice, question=MCQ, choice="A")
        response = alice.get(f"/v1/submissions/{created.json()['id']}", params={"wait": wait})
    assert response.status_code == 422
