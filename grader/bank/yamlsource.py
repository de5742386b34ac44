"""Read one YAML file with ruamel.yaml, keeping line numbers, and turn every parse failure into a
`BankIssue` that names `file:line:column` and the fix.

What would be costly or crash to build (anchors and aliases, deep nesting, huge integers) is
refused by `grader.bank.screen` before the parser builds anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from grader.bank.screen import screen_issues
from grader.errors import BankIssue

Loc = tuple[str | int, ...]


def tab_issues(name: str, text: str) -> list[BankIssue]:
    """Tabs in indentation: YAML forbids them, and ruamel's own message does not say so plainly."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(
                BankIssue(
                    name,
                    number,
                    indent.index("\t") + 1,
                    "",
                    "tab character in "
                    "indentation; YAML indents with spaces only: replace the tab with spaces",
                )
            )
    return found


def parse_yaml(name: str, text: str) -> tuple[Any, list[BankIssue]]:
    """Parse text; return (document, []) or (None, issues)."""
    refused = tab_issues(name, text) or screen_issues(name, text)
    if refused:
        return None, refused
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        return yaml.load(text), []
    except DuplicateKeyError as exc:
        return None, [_marked(name, exc, _duplicate_message(exc))]
    except MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [_marked(name, exc, f"invalid YAML: {problem}")]
    except YAMLError as exc:
        return None, [BankIssue(name, 1, 1, "", f"invalid YAML: {exc}")]
    except (ValueError, OverflowError, RecursionError) as exc:
        # The screen refuses the shapes known to raise these; anything it misses is still a
        # problem in the file, never a crash of the command that loads the bank.
        return None, [BankIssue(name, 1, 1, "", f"YAML the bank cannot read: {_first_line(exc)}")]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _duplicate_message(exc: DuplicateKeyError) -> str:
    first = exc.context_mark.line + 1 if exc.context_mark else "?"
    key = (exc.problem or "").removeprefix("found duplicate key ").split(" with value")[0]
    return f"duplicate key {key} (the mapping starting at line {first} has it twice); remove one"


def _marked(name: str, exc: MarkedYAMLError, message: str) -> BankIssue:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return BankIssue(name, line, column, "", message)


def locate(document: Any, loc: Loc, at_key: bool = False) -> tuple[int, int]:
    """1-based line and column of the deepest node of `loc` that exists in the document
    (of its key rather than its value when `at_key`, for fields that should not be there)."""
    line, column = 1, 1
    for node, key in _walk(document, loc):
        position = _position(node, key, at_key)
        if position is None:
            break
        line, column = position[0] + 1, position[1] + 1
    return line, column


def _walk(document: Any, loc: Loc) -> Iterator[tuple[Any, str | int]]:
    node = document
    for key in loc:
        yield node, key
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return


def _position(node: Any, key: str | int, at_key: bool) -> tuple[int, int] | None:
    if isinstance(node, CommentedMap) and key in node:
        use_value = _is_scalar(node[key]) and not at_key
        return tuple(node.lc.value(key)) if use_value else tuple(node.lc.key(key))
    if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
        return tuple(node.lc.item(key))
    return None


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (CommentedMap, CommentedSeq))


def plain(value: Any) -> Any:
    """ruamel's round-trip types as plain Python values, for validation."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
