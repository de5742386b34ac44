"""`grader course ...` and `grader stats`: an instructor's view of the course on the server.

Every `course` command talks to the server as `grader submit` does (`--server`/`--token`, the same
config file, the same error mapping in grader/cli/client.py), with an instructor's token, which
reaches its own course only. `--json` prints the server's body as it came. Exit 0; 2 for no
server or token, or when the server refuses the request or the token (a student's token, an
unknown id, a score off the scale); 3 when it cannot be reached or fails.

`grader stats` reads the item statistics from the server (`GET /v1/course/stats`), or with
`--db URL --course C` straight from the store, with this host's bank and assignments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from grader.cli.columns import attempt_text, columns_text, iso, score_text
from grader.cli.options import VERDICTS
from grader.cli.render import report_text
from grader.errors import BadInput, ServerUnavailable
from grader.text import printable

if TYPE_CHECKING:
    from datetime import datetime

    from grader.bank import Bank
    from grader.courses.catalog import Catalog
    from grader.courses.stats import CourseStats, ItemStats

T = TypeVar("T")
SUBMISSIONS = "/v1/course/submissions"
LISTING = ("id", "student", "question", "assignment", "status", "verdict", "score", "version", "")


def cmd_submissions(args: argparse.Namespace) -> int:
    from grader.cli.client import get_json, resolve_config  # httpx: when a command runs

    server, token = resolve_config(args.server, args.token)
    named = ("student", "question", "assignment", "verdict", "status", "since", "limit", "cursor")
    params = {key: getattr(args, key) for key in named if getattr(args, key) is not None}
    page = get_json(server, token, SUBMISSIONS, params)
    items = list(page["items"])
    while args.all and page.get("next"):
        page = get_json(server, token, SUBMISSIONS, params | {"cursor": page["next"]})
        items += page["items"]
    if args.json:
        print(json.dumps({"items": items, "next": page.get("next")}, indent=2))
    else:
        rows = [_listing_row(item) for item in items]
        print(columns_text(LISTING, rows) if rows else "no submissions match")
    if page.get("next"):
        print(f"more: add --cursor {page['next']} (or --all for every page)", file=sys.stderr)
    return 0


def _listing_row(item: dict[str, Any]) -> tuple[str, ...]:
    return (
        item["id"],
        item["student"],
        item["question"],
        attempt_text(item.get("assignment"), item.get("attempt")),
        item["status"],
        item.get("verdict") or "-",
        score_text(item.get("score"), item.get("max_score")),
        f"v{item['version']}",
        "*" if item.get("overridden") else "",
    )


def cmd_show(args: argparse.Namespace) -> int:
    from grader.cli.client import get_json, resolve_config

    server, token = resolve_config(args.server, args.token)
    detail = get_json(server, token, f"{SUBMISSIONS}/{quote(args.id, safe='')}")
    print(json.dumps(detail, indent=2) if args.json else detail_text(detail))
    return 0


def detail_text(detail: dict[str, Any]) -> str:
    """Who, what and when; the current report; then one line per version of it."""
    from grader.models import Report

    where = attempt_text(detail.get("assignment"), detail.get("attempt"))
    late = detail.get("late_penalty") or 0.0
    sent = detail.get("filename") and f"file: {detail['filename']}"
    head = [
        f"{detail['id']}  {detail['student']}  {detail['question']}  {where}",
        f"submitted {iso(detail['created_at'])} · graded {iso(detail.get('finished_at'))} · "
        f"{detail['status']} · version {detail['version']}"
        + (f" · {late:.0%} off for lateness" if late else ""),
        sent or f"choice: {detail.get('choice')}",
    ]
    report = detail.get("report")
    return "\n".join(
        [
            *(printable(line) for line in head),
            "",
            report_text(Report.model_validate(report)) if report else "no report yet",
            "",
            "history:",
            *(f"  {line}" for line in history_lines(detail["history"])),
        ]
    )


def history_lines(history: list[dict[str, Any]]) -> list[str]:
    """`v2 override by alice at <iso>: reason (score 3 -> 4)`, oldest first; the score change is
    shown wherever the score changed, and always for an override."""
    lines = []
    before: float | None = None
    for version in history:
        score = version["report"].get("score")
        line = f"v{version['version']} {version['change']} by {version['by']} at "
        line += iso(version["at"])
        if version.get("reason"):
            line += ": " + " ".join(str(version["reason"]).split())
        changed = version["change"] == "override" or score != before
        if before is not None and score is not None and changed:
            line += f" (score {before:g} -> {score:g})"
        lines.append(printable(line))
        before = score
    return lines


def cmd_gradebook(args: argparse.Namespace) -> int:
    from grader.cli.client import fetch, resolve_config

    server, token = resolve_config(args.server, args.token)
    params = {"format": args.format} | ({"assignment": args.assignment} if args.assignment else {})
    response = fetch(server, token, "GET", "/v1/course/gradebook", params=params)
    if args.out is None:
        sys.stdout.write(response.text)
        return 0
    _write(args.out, response.content)
    print(args.out)
    return 0


def cmd_regrade(args: argparse.Namespace) -> int:
    from grader.cli.client import post_json, resolve_config

    server, token = resolve_config(args.server, args.token)
    named = {"submission": args.submission, "question": args.question}
    named["assignment"] = args.assignment
    body = {key: value for key, value in named.items() if value is not None}
    done = post_json(server, token, "/v1/course/regrade", body | {"force": args.force})
    if args.json:
        print(json.dumps(done, indent=2))
    else:
        print(
            f"queued {done['queued']}, unchanged {done['unchanged']}, "
            f"already pending {done['pending']}"
        )
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from grader.cli.client import post_json, resolve_config

    server, token = resolve_config(args.server, args.token)
    path = f"{SUBMISSIONS}/{quote(args.id, safe='')}/override"
    detail = post_json(server, token, path, {"score": args.score, "reason": args.reason})
    print(json.dumps(detail, indent=2) if args.json else history_lines(detail["history"])[-1])
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from grader.cli.client import get_json, resolve_config
    from grader.courses import stats_html, stats_text

    if args.db is not None:
        if not args.course:
            raise BadInput("--db needs --course: the statistics are of one course's work")
        stats = _store_stats(args)
        data = stats.to_json()
        title = f"Item statistics: {args.assignment or 'course ' + args.course}"
    else:
        if args.course:
            raise BadInput("--course goes with --db; from a server the token names the course")
        server, token = resolve_config(args.server, args.token)
        params = {"assignment": args.assignment} if args.assignment else {}
        data = get_json(server, token, "/v1/course/stats", params)
        stats = stats_from_json(data)
        title = f"Item statistics: {args.assignment or 'all of the course'}"
    if args.json:
        print(json.dumps(data, indent=2))
    elif args.html is not None:
        _write(args.html, stats_html.render(stats, title).encode("utf-8"))
        print(args.html)
    else:
        sys.stdout.write(stats_text.render(stats))
    return 0


@dataclass(frozen=True)
class _Offline:
    """What the statistics read of a course without a server: this host's bank and assignments."""

    bank: Bank
    catalog: Catalog
    clock: Callable[[], datetime]


def _store_stats(args: argparse.Namespace) -> CourseStats:
    from grader.bank import load_bank
    from grader.courses.catalog import load_catalog
    from grader.service import course_stats
    from grader.service.store_location import operator_store
    from grader.service.views import utc_now
    from grader.settings import with_flags

    sessions = operator_store(args.db)  # first: the wrong store is the likelier mistake
    try:
        settings = with_flags(args.bank)
        bank = load_bank([settings.bank])
        offline = _Offline(bank, load_catalog(settings.assignments, bank), utc_now)
        with sessions() as session:
            return course_stats.for_course(session, offline, args.course, args.assignment)
    finally:
        sessions.kw["bind"].dispose()


def stats_from_json(data: Any) -> CourseStats:
    """The server's `GET /v1/course/stats` body as `CourseStats` again, for the renderers; keys
    this grader does not know are left out."""
    from grader.courses.stats import CourseStats, Flag

    try:
        items = [_item_stats(raw) for raw in data["items"]]
        flagged = [_known(Flag, raw) for raw in data["flagged"]]
        return CourseStats(students=int(data["students"]), items=items, flagged=flagged)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ServerUnavailable(
            f"the server's statistics are not in the shape this grader reads ({exc}); "
            "are the server and this grader the same version?"
        ) from exc


def _item_stats(raw: dict[str, Any]) -> ItemStats:
    from grader.courses.stats import Flag, ItemStats, OptionStats

    options = [_known(OptionStats, option) for option in raw.get("options") or []]
    flags = [_known(Flag, flag) for flag in raw.get("flags") or []]
    return _known(ItemStats, raw | {"options": options, "flags": flags})


def _known(cls: type[T], raw: dict[str, Any]) -> T:
    """`cls` built from the keys of `raw` it takes; TypeError when one it needs is missing."""
    import inspect

    takes = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in raw.items() if key in takes})


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write it ({exc.strerror})") from exc


def number(text: str) -> float:
    """A finite number (argparse names it in its error: `invalid number value`)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def add_course_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """`grader course submissions|show|gradebook|regrade|override` and `grader stats`."""
    course = sub.add_parser("course", help="an instructor's view of the course on the server")
    actions = course.add_subparsers(dest="course_command", required=True, metavar="ACTION")
    p = _action(actions, "submissions", "the course's submissions, oldest first", cmd_submissions)
    p.add_argument("--student")
    p.add_argument("--question")
    p.add_argument("--assignment")
    p.add_argument("--verdict", choices=VERDICTS)
    p.add_argument("--status", choices=["queued", "running", "done"])
    p.add_argument("--since", help="Unix seconds or ISO 8601: submitted at or after it")
    p.add_argument("--limit", type=int, help="a page's size (default 50, at most 500)")
    p.add_argument("--cursor", help="the page after the one whose `next` this was")
    p.add_argument("--all", action="store_true", help="follow `next` to the last page")
    p = _action(actions, "show", "a submission: report and history", cmd_show)
    p.add_argument("id", help="the submission's id, `sub_...`")
    p = _action(actions, "gradebook", "the server's gradebook, as it sends it", cmd_gradebook)
    p.add_argument("--assignment", help="one assignment (default: all)")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--out", type=Path, help="write it to this file (default: stdout)")
    p = _action(actions, "regrade", "grade submissions again", cmd_regrade)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--submission", metavar="ID")
    which.add_argument("--question", metavar="ITEM")
    which.add_argument("--assignment")
    p.add_argument("--force", action="store_true", help="even if the item has not changed")
    p = _action(actions, "override", "set the score that counts, with a reason", cmd_override)
    p.add_argument("id", help="the submission's id, `sub_...`")
    p.add_argument("--score", type=number, required=True, help="in the report's points")
    p.add_argument("--reason", required=True, help="why; the student reads it")
    _add_stats_command(sub)


def _add_stats_command(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("stats", help="item statistics of the course, with flagged items")
    p.add_argument("--assignment", help="one assignment's (default: all the course's work)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the statistics as JSON")
    form.add_argument("--html", type=Path, metavar="FILE", help="write an HTML report to FILE")
    _server_options(p)
    p.add_argument("--db", help="read the store at this URL instead of asking a server")
    p.add_argument("--course", help="with --db: the course")
    p.set_defaults(func=cmd_stats)


def _action(
    actions: argparse._SubParsersAction[Any],
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    _server_options(p)
    if name != "gradebook":
        p.add_argument("--json", action="store_true", help="print the server's JSON body")
    p.set_defaults(func=func)
    return p


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", help="default: $GRADER_SERVER or `server` in the config file")
    p.add_argument("--token", help="an instructor's; default: $GRADER_TOKEN or the config file")
