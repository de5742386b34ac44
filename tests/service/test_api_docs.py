"""`/docs` works offline: one page from the app's own OpenAPI document, nothing fetched."""

from __future__ import annotations

from html.parser import HTMLParser

from grader.service.api_docs import render
from grader.service.db import Submission
from grader.service.deliveries import EVENT_TYPE, REGRADE_TYPE, payload
from grader.service.responses import Callback, CallbackData
from tests.service.conftest import InProcess


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src")]


def test_the_docs_page_lists_every_operation_and_fetches_nothing(app: InProcess) -> None:
    answer = app.client.get("/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    document = app.client.get("/openapi.json").json()
    for path, methods in document["paths"].items():
        for method in methods:
            assert f'{method.upper()}</span><span class="path">{path}</span>' in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    parsed = Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert all(link.startswith("#schema-") for link in parsed.links), parsed.links
    assert "http://" not in page and "https://" not in page
    assert app.client.get("/redoc").status_code == 404


def test_the_docs_page_escapes_what_the_document_says() -> None:
    document = {
        "info": {"title": "<script>t</script>", "description": "<img src=x>"},
        "paths": {"/x": {"get": {"summary": "<b>", "responses": {"200": {"description": "<i>"}}}}},
        "components": {"schemas": {"A<b>": {"properties": {"k<": {"type": "string"}}}}},
    }
    page = render(document)
    assert (
        "<script>" not in page
        and "<img" not in page
        and "<b>" not in page.split("</style>")[1].replace("<b>200</b>", "")
    )


def test_the_callback_schema_in_openapi_is_what_the_sender_posts(app: InProcess) -> None:
    """The OpenAPI `webhooks` document the callback with the model every payload passes."""
    document = app.client.get("/openapi.json").json()
    assert set(document["webhooks"]) == {EVENT_TYPE, REGRADE_TYPE}
    report = {
        "question": "q",
        "status": "passed",
        "verdict": "PASSED",
        "score": 1.0,
        "max_score": 1.0,
        "duration_s": 0.0,
        "backend": "host",
        "submission": "sub_x",
    }
    for version, kind in ((1, EVENT_TYPE), (2, REGRADE_TYPE)):
        row = Submission(
            id="sub_x",
            external_id="lms-1",
            student="s",
            question="q",
            report=report,
            finished_at=0.0,
            version=version,
        )
        body = payload(row)
        checked = Callback.model_validate(body)
        assert checked.type == kind and set(body["data"]) == set(CallbackData.model_fields)
