"""`grader assignments`: a student's open and upcoming assignments, from the course server.

The server and token come from where `grader submit` finds them. The table shows each item's
points, attempts used and left, and the score that counts so far; `--json` prints the server's
body (`GET /v1/assignments`) as it came. Exit 0; 2 for no server or token or a refused token; 3
when the server cannot be reached or fails.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from grader.cli.client import get_json


def show(server: str, token: str, *, as_json: bool = False) -> int:
    body: list[dict[str, Any]] = get_json(server, token, "/v1/assignments")
    print(json.dumps(body, indent=2) if as_json else assignments_text(body))
    return 0


def assignments_text(body: list[dict[str, Any]]) -> str:
    """Each assignment's heading and window, then a row per item."""
    if not body:
        return "no open or upcoming assignments for your course"
    return "\n\n".join(_assignment_text(assignment) for assignment in body)


def _assignment_text(assignment: dict[str, Any]) -> str:
    state = "open" if assignment["open"] else "not open"
    closes = _when(assignment["closes"]) if assignment["closes"] else "never (late work penalised)"
    lines = [
        f"{assignment['id']}  {assignment['title']}  [{state}; counts the {assignment['counts']}]",
        f"  opens {_when(assignment['opens'])} · due {_when(assignment['due'])} · closes {closes}",
    ]
    rows = [_row(item) for item in assignment["items"]]
    width = max(len("item"), *(len(row[0]) for row in rows))
    header = ("item", "kind", "points", "used", "left", "score")
    for row in [header, *rows]:
        lines.append(
            f"  {row[0]:<{width}}  {row[1]:<8}{row[2]:>6}{row[3]:>6}{row[4]:>6}{row[5]:>7}"
        )
    return "\n".join(lines)


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    left = item["attempts_left"]
    score = item["score"]
    return (
        item["id"],
        item["kind"],
        f"{item['points']:g}",
        str(item["attempts_used"]),
        "any" if left is None else str(left),
        "-" if score is None else f"{score:g}",
    )


def _when(iso: str) -> str:
    """An ISO 8601 time as `2027-06-30 23:59 +00:00`: minutes are what a deadline is read to."""
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d %H:%M ") + moment.isoformat()[-6:]
