"""The contracts in docs/ say what the code does: each name the code exposes is documented.

Every `grader` command and its options (`docs/cli.md`), every `GRADER_*` variable the source reads
and each plain default of the settings models (`docs/cli.md`), every route, status code and body
key of the course server's OpenAPI (`docs/http-api.md`), every report field and status and verdict
value, and Gradescope's keys (`docs/report.md`), and the LMS webhook bodies, headers and retry
schedule (`docs/webhooks.md`). Each check reads the code, not a copy of its names, so adding a
command, a variable, a route or a field without documenting it fails here.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from grader.bank import Bank
from grader.cli.app import build_parser
from grader.gradescope.autograder import failure_results
from grader.gradescope.results import gradescope_results
from grader.models import CheckResult, Report, Status, Verdict
from grader.service.app import create_app
from grader.service.db import Submission, open_store
from grader.service.deliveries import EVENT_TYPE, payload
from grader.service.lms import CLIENT_HEADER, LmsSubmissionBody
from grader.service.settings import RETRY_SCHEDULE, ServiceSettings
from grader.service.state import ServiceState
from grader.service.webhooks import SECRET_PREFIX, new_secret, signed_headers
from grader.settings import GraderSettings
from sandbox.settings import SandboxSettings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: A `GRADER_*` variable's name: no trailing underscore, so a prefix such as `"GRADER_" + x` is not.
VARIABLE = re.compile(r"\bGRADER_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
SETTINGS: tuple[type[BaseSettings], ...] = (GraderSettings, SandboxSettings, ServiceSettings)
#: Component schemas documented with the report (docs/report.md); the rest in docs/http-api.md.
REPORT_SCHEMAS = {"StoredReport", "CheckResult", "Status", "Verdict", "ReportVariant"}
HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The text under the Markdown heading `title`, up to the next heading of its level or above
    (code fences skipped); fails the test when there is no such heading."""
    level, body, fenced = 0, [], False
    for line in text.splitlines():
        fence = line.lstrip().startswith("```")
        fenced = fenced != fence
        match = None if fenced or fence else HEADING.match(line)
        if level and match and len(match.group(1)) <= level:
            break
        if level:
            body.append(line)
        elif match and match.group(2) == title:
            level = len(match.group(1))
    if not level:
        pytest.fail(f"no heading {title!r} in the docs")
    return "\n".join(body)


def mentions(text: str, word: str) -> bool:
    """`word` appears in `text` as a whole word (`--db` is not in `--db-url`)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def row(text: str, key: str) -> bool:
    """A table row whose first cell is `key` in backticks."""
    return re.search(rf"^\|\s*`{re.escape(key)}`\s*\|", text, re.MULTILINE) is not None


# ---- docs/cli.md ------------------------------------------------------------------------------


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("grader",)
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """`("grader tokens create", its parser)` for every command that runs (a leaf)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                if nested:
                    yield from commands(sub, (*path, name))
                else:
                    yield " ".join((*path, name)), sub


def documented_words(parser: argparse.ArgumentParser) -> list[str]:
    """What a command's section must name: its options and the values its choices allow."""
    words: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        words += [option for option in action.option_strings if option.startswith("--")]
        words += [str(choice) for choice in action.choices or ()]
    return words


def test_every_command_has_a_section_naming_its_options() -> None:
    cli = doc("cli.md")
    found = dict(commands(build_parser()))
    assert {"grader check", "grader serve", "grader lms add", "grader tokens create"} <= set(found)
    missing = [
        f"{name}: {word}"
        for name, parser in found.items()
        for word in documented_words(parser)
        if not mentions(section(cli, f"`{name}`"), word)
    ]
    assert not missing, f"docs/cli.md does not name these: {missing}"


def test_global_options_are_documented() -> None:
    words = documented_words(build_parser())
    assert "--bank" in words
    table = section(doc("cli.md"), "Global option")
    assert all(mentions(table, word) for word in words), words


def test_exit_codes_are_documented() -> None:
    table = section(doc("cli.md"), "Exit codes")
    for code in range(4):
        assert re.search(rf"^\|\s*{code}\s*\|", table, re.MULTILINE), code


def setting_variables() -> dict[str, Any]:
    """Each settings model's `GRADER_*` variable and its plain default (`PydanticUndefined` when
    the default is computed); a composed settings model is skipped, its own fields are listed."""
    found: dict[str, Any] = {}
    for model in SETTINGS:
        assert model.model_config.get("env_prefix") == "GRADER_", model.__name__
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseSettings):
                continue
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names = [c for c in alias.choices if isinstance(c, str) and c.startswith("GRADER_")]
            else:
                names = [str(alias) if alias else f"GRADER_{name.upper()}"]
            assert names, f"{model.__name__}.{name} has no GRADER_* variable"
            default = PydanticUndefined if field.default_factory else field.default
            found.update(dict.fromkeys(names, default))
    return found


def source_variables() -> set[str]:
    """Every `GRADER_*` name written in grader/ and sandbox/ (code, strings, docstrings)."""
    found: set[str] = set()
    for folder in ("grader", "sandbox"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found |= set(VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


def test_every_grader_variable_is_documented() -> None:
    variables = source_variables() | set(setting_variables())
    assert {"GRADER_BACKEND", "GRADER_POOL_SIZE", "GRADER_MAX_UPLOAD", "GRADER_GPUS"} <= variables
    documented = set(VARIABLE.findall(doc("cli.md")))
    assert not variables - documented, f"not in docs/cli.md: {sorted(variables - documented)}"


def test_every_documented_variable_exists() -> None:
    """No stale names: each variable docs/cli.md names is still read or set somewhere."""
    this = Path(__file__).resolve()
    places = [ROOT / name for name in ("grader", "sandbox", "gradescope", "tests", "scripts")]
    places += [ROOT / "deploy", ROOT / "Makefile"]
    used: set[str] = set()
    for place in places:
        files = place.rglob("*") if place.is_dir() else [place]
        for path in files:
            if path.is_file() and path.resolve() != this and "__pycache__" not in path.parts:
                used |= set(VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")))
    stale = set(VARIABLE.findall(doc("cli.md"))) - used
    assert not stale, f"docs/cli.md names variables nothing uses: {sorted(stale)}"


def shown(default: Any) -> str:
    """A default as the settings tables write it."""
    if default is None or default == frozenset() or default == ():
        return "(none)"
    if isinstance(default, bool):
        return "`1`" if default else "`0`"
    if isinstance(default, float):
        return f"`{default:g}`"
    if isinstance(default, tuple):
        return "`" + ",".join(map(str, default)) + "`"
    return f"`{default}`"


def test_settings_defaults_match_the_code() -> None:
    cli = doc("cli.md")
    rows = dict(re.findall(r"^\|\s*`(GRADER_\w+)`\s*\|.*\|\s*([^|]*?)\s*\|$", cli, re.MULTILINE))
    wrong = []
    for name, default in setting_variables().items():
        if default is PydanticUndefined:
            continue
        if name not in rows or shown(default) not in rows[name]:
            wrong.append(f"{name}: the code says {shown(default)}, the doc {rows.get(name)!r}")
    assert not wrong, wrong


# ---- docs/http-api.md -------------------------------------------------------------------------


class NoDispatch:
    """A dispatcher that never runs: the OpenAPI document needs none."""

    def dispatch(self, submission_id: str, queue: str) -> None:
        raise AssertionError("nothing is submitted here")

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@pytest.fixture
def openapi(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The course server's OpenAPI document, from the app built in-process on an empty store."""
    settings = ServiceSettings(db_url=f"sqlite:///{tmp_path / 'grader.db'}")
    sessions = open_store(settings.db_url)
    try:
        yield create_app(ServiceState(settings, sessions, Bank(), NoDispatch())).openapi()
    finally:
        sessions.kw["bind"].dispose()


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_route_and_its_status_codes_are_documented(openapi: dict[str, Any]) -> None:
    api = doc("http-api.md")
    assert "/openapi.json" in api
    routes = dict(operations(openapi))
    assert {"POST /v1/submissions", "POST /v1/lms/submissions", "GET /healthz"} <= set(routes)
    missing = [
        f"{route} {status}"
        for route, operation in routes.items()
        for status in operation["responses"]
        if not mentions(section(api, f"`{route}`"), status)
    ]
    assert not missing, f"docs/http-api.md does not give these answers: {missing}"


def schema_words(schema: dict[str, Any]) -> Iterator[str]:
    """A schema's keys and the literal values it allows (enums and consts, nested ones too)."""
    for value in schema.get("enum", ()):
        yield str(value)
    if "const" in schema:
        yield str(schema["const"])
    for name, prop in schema.get("properties", {}).items():
        yield name
        yield from schema_words(prop)
    members = [*schema.get("anyOf", ()), *schema.get("oneOf", ())]
    for member in [*members, schema["items"]] if "items" in schema else members:
        yield from schema_words(member)


def test_every_body_key_and_value_is_documented(openapi: dict[str, Any]) -> None:
    texts = {"http-api.md": doc("http-api.md"), "report.md": doc("report.md")}
    missing = []
    for name, schema in openapi["components"]["schemas"].items():
        where = "report.md" if name in REPORT_SCHEMAS else "http-api.md"
        missing += [
            f"{where}: {name}.{word}"
            for word in schema_words(schema)
            if f"`{word}`" not in texts[where]
        ]
    assert not missing, f"undocumented body keys or values: {missing}"


# ---- docs/report.md ---------------------------------------------------------------------------


def test_every_report_field_and_value_is_documented() -> None:
    report = doc("report.md")
    tables = {
        "`Report`": list(Report.model_fields),
        "`CheckResult`": list(CheckResult.model_fields),
        "`Status`": [status.value for status in Status],
        "`Verdict`": [verdict.value for verdict in Verdict],
    }
    missing = [
        f"{title}: {key}"
        for title, keys in tables.items()
        for key in keys
        if not row(section(report, title), key)
    ]
    assert not missing, f"docs/report.md has no row for: {missing}"


def test_gradescope_keys_are_documented(tmp_path: Path) -> None:
    check = CheckResult(name="c", passed=False, score=0, max_score=1, message="m", hint="h")
    graded = Report(
        question="q",
        status=Status.FAILED,
        verdict=Verdict.WRONG_ANSWER,
        score=0,
        max_score=1,
        checks=[check],
        duration_s=0.5,
        backend="host",
    )
    results = gradescope_results(graded)
    text = section(doc("report.md"), "Gradescope `results.json`")
    keys = [*results, *results["tests"][0]]
    assert all(row(text, key) for key in keys), keys
    failure_results("why", tmp_path / "results.json")
    failed = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    keys = [*failed, *failed["extra_data"]]
    assert all(f'"{key}"' in text for key in keys), keys


# ---- docs/webhooks.md -------------------------------------------------------------------------


def test_lms_body_fields_are_documented() -> None:
    table = section(doc("webhooks.md"), "Body")
    missing = [name for name in LmsSubmissionBody.model_fields if not row(table, name)]
    assert not missing, f"docs/webhooks.md has no row for the body fields {missing}"


def test_callback_envelope_is_documented() -> None:
    graded = Submission(
        id="sub_x", external_id="lms-1", student="s", question="q", report={}, finished_at=0.0
    )
    envelope = payload(graded)
    text = section(doc("webhooks.md"), "Request")
    keys = [key for key in envelope if key != "data"] + [f"data.{key}" for key in envelope["data"]]
    missing = [key for key in keys if not row(text, key)]
    assert not missing, f"docs/webhooks.md has no row for the callback keys {missing}"
    assert f"`{EVENT_TYPE}`" in text


def test_signature_headers_are_documented() -> None:
    webhooks = doc("webhooks.md")
    headers = signed_headers(new_secret(), "msg_x", b"{}", 0.0)
    for name in [*headers, CLIENT_HEADER]:
        assert row(webhooks, name), name
    assert f"`{SECRET_PREFIX}`" in webhooks
    tolerance = ServiceSettings.model_fields["webhook_tolerance_s"].default
    assert f"(default {tolerance})" in section(webhooks, "Headers")


def spoken(seconds: float) -> str:
    """A delay as the retry table writes it."""
    if seconds == 0:
        return "immediately"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def test_retry_schedule_is_documented() -> None:
    table = section(doc("webhooks.md"), "Answers, retries and failure")
    for attempt, delay in enumerate(RETRY_SCHEDULE, start=1):
        line = rf"^\|\s*{attempt}\s*\|\s*{re.escape(spoken(delay))}\s*\|"
        assert re.search(line, table, re.MULTILINE), (attempt, spoken(delay))
    assert re.search(rf"After attempt {len(RETRY_SCHEDULE)} the delivery is failed", table)


# ---- docs/README.md ---------------------------------------------------------------------------


def test_index_links_every_contract() -> None:
    index = doc("README.md")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert "trust-model.md" in pages
    assert all(f"]({page})" in index for page in pages), pages
    assert "contract change" in index
