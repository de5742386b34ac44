"""`/docs`: the API's reference as one HTML page built from the app's own OpenAPI document, on
the server, with no script and no asset from anywhere else: it works on an air-gapped host.

Every operation (method, path, summary, description, parameters, body, responses with their
bodies) and every schema (its properties, types, which are required) is listed; a `$ref` links
to its schema on the page. Every string is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 24px; color: #1d2733; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 1px solid #d7dde4; }
.op { border: 1px solid #d7dde4; border-radius: 6px; margin: 18px 0; padding: 10px 14px; }
.method { display: inline-block; min-width: 56px; text-align: center; border-radius: 4px;
          color: #fff; font-weight: 600; padding: 1px 6px; margin-right: 8px; }
.get { background: #2f6fb5; } .post { background: #2e8b57; } .put, .patch { background: #b57b2f; }
.delete { background: #b5372f; }
code, .path { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { border-bottom: 1px solid #e6eaef; text-align: left; padding: 4px 8px;
         vertical-align: top; }
th { color: #5b6672; font-weight: 600; }
.desc { white-space: pre-wrap; color: #37424e; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render(document: Mapping[str, Any]) -> str:
    """The page for an OpenAPI `document` (what `app.openapi()` returns)."""
    info = document.get("info", {})
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(info.get('title', 'API'))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(info.get('title', 'API'))}</h1>",
        f'<p class="desc">{_e(info.get("description", ""))}</p>',
        "<p>The same document as JSON: <code>/openapi.json</code>.</p>",
        "<h2>Operations</h2>",
        *(_operation(path, method, op) for path, method, op in _operations(document)),
        "<h2>Schemas</h2>",
        *(_schema(name, schema) for name, schema in _schemas(document)),
        "</body></html>",
    ]
    return "\n".join(parts)


def _operations(document: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            yield path, method, operation


def _schemas(document: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    schemas = document.get("components", {}).get("schemas", {})
    return sorted(schemas.items())


def _operation(path: str, method: str, op: Mapping[str, Any]) -> str:
    head = (
        f'<div class="op"><span class="method {_e(method)}">{_e(method.upper())}</span>'
        f'<span class="path">{_e(path)}</span> — {_e(op.get("summary", ""))}'
    )
    body = [head, f'<p class="desc">{_e(op.get("description", ""))}</p>']
    if op.get("parameters"):
        body.append(_parameters(op["parameters"]))
    if op.get("requestBody"):
        body.append(_request_body(op["requestBody"]))
    body.append(_responses(op.get("responses", {})))
    return "\n".join(body) + "</div>"


def _parameters(parameters: Iterable[Mapping[str, Any]]) -> str:
    rows = [
        (
            f"<code>{_e(p.get('name'))}</code>",
            _e(p.get("in")),
            "yes" if p.get("required") else "no",
            _type(p.get("schema", {})),
            _e(p.get("description", "")),
        )
        for p in parameters
    ]
    return _table(("parameter", "in", "required", "type", "meaning"), rows)


def _request_body(body: Mapping[str, Any]) -> str:
    rows = [
        (f"<code>{_e(kind)}</code>", _type(media.get("schema", {})))
        for kind, media in body.get("content", {}).items()
    ]
    return "<p><b>Body</b></p>" + _table(("content type", "schema"), rows)


def _responses(responses: Mapping[str, Any]) -> str:
    rows = []
    for status, answer in responses.items():
        kinds = answer.get("content", {})
        shapes = ", ".join(
            f"<code>{_e(kind)}</code> {_type(media.get('schema', {}))}"
            for kind, media in kinds.items()
        )
        rows.append((f"<b>{_e(status)}</b>", _e(answer.get("description", "")), shapes))
    return _table(("status", "when", "body"), rows)


def _schema(name: str, schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = [
        (
            f"<code>{_e(key)}</code>",
            _type(prop),
            "yes" if key in required else "no",
            _e(prop.get("description", "")),
        )
        for key, prop in schema.get("properties", {}).items()
    ]
    values = schema.get("enum")
    extra = f"<p>One of: {', '.join(f'<code>{_e(v)}</code>' for v in values)}</p>" if values else ""
    table = _table(("field", "type", "required", "meaning"), rows) if rows else ""
    return (
        f'<h3 id="schema-{_e(name)}">{_e(name)}</h3>'
        f'<p class="desc">{_e(schema.get("description", ""))}</p>{extra}{table}'
    )


def _type(schema: Mapping[str, Any]) -> str:
    """A schema in a few words: a link for a `$ref`, `array of ...`, `a | b` for unions."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    union = schema.get("anyOf") or schema.get("oneOf")
    if union:
        return " | ".join(_type(member) for member in union)
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    return _e(kind or "any")


def _table(heads: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
