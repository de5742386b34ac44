"""The pages a launched user sees, rendered on the server: plain HTML with its style inline,
nothing fetched from anywhere (the CSP says so), small enough for an LMS's iframe.

The item is shown as `GET /v1/items/{id}/variant` shows it (`question_view`: no key, no hidden
value); the report as `GET /v1/submissions/{id}` shows it (cut by the assignment's reveal rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:1rem;max-width:52rem;color:#1d1d1f}
pre{background:#f4f4f6;padding:.6rem;overflow:auto}
.bad{color:#a40000}.good{color:#16652d}.small{font-size:13px;color:#555}
label{display:block;margin:.2rem 0}button{margin-top:.6rem;padding:.3rem 1rem}
"""


def document(title: str, body: str, refresh_s: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def message(title: str, text: str) -> str:
    """A one-line refusal or notice, as a page (inside the iframe a JSON body would be raw)."""
    return document(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>")


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n") if part.strip())


def _answer_fields(view: dict[str, Any]) -> str:
    kind = view.get("kind")
    if kind == "code":
        starter = view.get("starter") or ""
        shown = f"<p>Starter:</p><pre>{escape(starter)}</pre>" if starter else ""
        return f'{shown}<label>Your file (.py or .ipynb) <input type="file" name="file"></label>'
    if kind == "mcq":
        return "".join(
            f'<label><input type="radio" name="choice" value="{escape(c["letter"])}"> '
            f"{escape(c['letter'])}. {escape(c['text'])}</label>"
            for c in view.get("choices", [])
        )
    snippet = view.get("snippet")
    shown = f"<pre>{escape(snippet)}</pre>" if snippet else ""
    return f'{shown}<label>Your answer <input type="text" name="choice" size="40"></label>'


def signed_in(user: str, context: str) -> str:
    """The line every launched page starts with: whose session this is, in which LMS course."""
    return f'<p class="small">Signed in as {escape(user)} in {escape(context)}</p>'


@dataclass(frozen=True)
class ItemParts:
    """What the item page shows around the item: who (`signed_in`), the new-window link (our
    login initiation again; None when the platform gave no hint to start one with), and
    whether scores go to the LMS gradebook."""

    who: str
    relaunch: str | None
    graded: bool


def item_page(view: dict[str, Any], check: str, history: str, parts: ItemParts) -> str:
    """The item, a form that submits it, the user's submissions so far, and the new-window
    link for a browser that does not send the session cookie back."""
    title = str(view.get("title") or view.get("id"))
    form = (
        '<form method="post" action="/lti/submit" enctype="multipart/form-data">'
        f'<input type="hidden" name="check" value="{escape(check)}">'
        f'{_answer_fields(view)}<button type="submit">Submit</button></form>'
    )
    fallback = (
        f'<p class="small">Nothing happens when you submit? <a href="{escape(parts.relaunch)}" '
        'target="_blank" rel="noopener">Open in a new window</a> (you sign in there again).</p>'
        if parts.relaunch
        else ""
    )
    sync = (
        ""
        if parts.graded
        else '<p class="small">Practice: your scores here are not sent to the LMS gradebook.</p>'
    )
    body = f"{parts.who}<h1>{escape(title)}</h1>{sync}{_paragraphs(str(view.get('prompt', '')))}"
    return document(title, body + form + history + fallback)


def history_list(rows: Iterable[tuple[str, str, str]]) -> str:
    """Links to the user's submissions: (id, when, status or verdict)."""
    items = "".join(
        f'<li><a href="/lti/submissions/{escape(i)}">{escape(when)}</a>: {escape(what)}</li>'
        for i, when, what in rows
    )
    return f"<h2>Your submissions</h2><ul>{items}</ul>" if items else ""


def report_page(status: str, report: dict[str, Any] | None, revealed: str | None, who: str) -> str:
    """A submission's report as the student may see it; while it is graded, the page reloads."""
    if status != "done" or report is None:
        grading = f"{who}<h1>Grading…</h1><p>Status: {escape(status)}</p>"
        return document("Grading", grading, 2)
    css = "good" if str(report.get("verdict")).lower() == "passed" else "bad"
    lines = [
        who,
        f'<h1 class="{css}">{escape(str(report.get("verdict")))}</h1>',
        f"<p>Score: {report.get('score', 0):g} / {report.get('max_score', 0):g}</p>",
    ]
    if report.get("message"):
        lines.append(f"<p>{escape(str(report['message']))}</p>")
    for check in report.get("checks") or []:
        mark = "✔" if check.get("passed") else "✘"
        said = escape(str(check.get("message") or ""))
        lines.append(f"<p>{mark} {escape(str(check.get('name')))} {said}</p>")
    if revealed:
        lines.append(f'<p class="small">Shown at the {escape(revealed)} level.</p>')
    lines.append('<p><a href="/lti/item">Back to the item</a></p>')
    return document("Report", "".join(lines))
