"""The log tells a submission's story: one line per event, each naming the submission, as text
or JSON; a real server's log under `--log-format json` is read back line by line."""

from __future__ import annotations

import io
import json
import logging

from grader.ops.loopback import wait_until
from grader.service import logs
from tests.service.conftest import MakeServer


def lines_of(fmt: str) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonLines() if fmt == "json" else logs.TextLines())
    logs.events.addHandler(handler)
    logs.events.setLevel(logging.INFO)
    try:
        logs.event("graded", "sub_x", verdict="PASSED", note="two words", skipped=None)
    finally:
        logs.events.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_an_event_is_one_text_line_with_its_fields() -> None:
    [line] = lines_of("text")
    assert line.endswith(' INFO graded submission=sub_x verdict=PASSED note="two words"')


def test_an_event_is_one_json_object() -> None:
    [line] = lines_of("json")
    body = json.loads(line)
    assert {k: body[k] for k in ("level", "event", "submission", "verdict", "note")} == {
        "level": "INFO",
        "event": "graded",
        "submission": "sub_x",
        "verdict": "PASSED",
        "note": "two words",
    }
    assert "skipped" not in body and body["ts"].endswith("Z")


def test_a_real_servers_json_log_tells_each_submissions_story(make_server: MakeServer) -> None:
    server = make_server(env={"GRADER_LOG_FORMAT": "json"})
    with server.client(server.token("ann")) as http:
        made = http.post("/v1/submissions", data={"question": "finetuning-purpose", "choice": "A"})
        assert made.status_code == 202, made.text
        sub = made.json()["id"]

        def graded() -> bool:
            return http.get(f"/v1/submissions/{sub}").json()["status"] == "done"

        assert wait_until(graded, timeout_s=30)
    server.stop()
    records = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))  # every line that looks like JSON is JSON
    story = [r["event"] for r in records if r.get("submission") == sub]
    assert story == ["accepted", "claimed", "graded"], story
    graded_line = next(r for r in records if r.get("event") == "graded")
    assert graded_line["written"] is True and graded_line["verdict"] in ("PASSED", "WRONG_ANSWER")
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("POST /v1/submissions" in r["message"] for r in access)
    assert any(r["logger"] == "grader.service.shutdown" for r in records)
