"""The Python an item file holds, compiled when the item is loaded.

A syntax error in a check's `eval` or `exec`, a `$expr` input, a `verify` snippet or a predict
snippet used to surface only when the item ran, as "the reference failed". Compiling it here
(nothing is run) makes it an issue at its own line: the line inside the YAML block scalar where
Python stopped, and the column there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from grader.bank.yamlsource import locate
from grader.errors import BankIssue
from grader.models import CodeItem, Item, McqItem, PredictItem

Loc = tuple[str | int, ...]
#: Where Python code sits in an item, and how the runner compiles it: `exec` as written, `eval`
#: as `result = (EXPRESSION)` (grader/probe/harness/runner.py's `run_target`).
Code = tuple[Loc, str, str]
WRAP = "result = ("


def syntax_issues(name: str, text: str, document: Any, item: Item) -> list[BankIssue]:
    """One issue per piece of code that does not compile, at the line Python names."""
    issues = []
    for loc, source, mode in code_of(item):
        error = _compile_error(source, mode)
        if error is not None:
            issues.append(_issue(name, text, document, loc, error))
    return issues


def code_of(item: Item) -> Iterator[Code]:
    """Every piece of Python in the item that a sandbox runs, with its field path."""
    if isinstance(item, McqItem) and item.verify is not None:
        yield ("verify", "snippet"), item.verify.snippet, "exec"
    if isinstance(item, PredictItem):
        yield ("snippet",), item.snippet, "exec"
    if isinstance(item, CodeItem):
        for index, check in enumerate(item.checks):
            here: Loc = ("checks", index)
            if check.eval is not None:
                yield (*here, "eval"), check.eval, "eval"
            if check.exec is not None:
                yield (*here, "exec"), check.exec, "exec"
            if check.call is not None:
                yield from _expressions(check.call.args, (*here, "call", "args"))
                yield from _expressions(check.call.kwargs, (*here, "call", "kwargs"))


def _expressions(value: Any, loc: Loc) -> Iterator[Code]:
    """`{$expr: TEXT}` inputs: statements that set `result`, run by the runner."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(item, (*loc, index))
    elif isinstance(value, dict):
        if isinstance(value.get("$expr"), str):
            yield (*loc, "$expr"), value["$expr"], "exec"
        for key, item in value.items():
            yield from _expressions(item, (*loc, key))


def _compile_error(source: str, mode: str) -> SyntaxError | None:
    wrapped = f"{WRAP}{source})" if mode == "eval" else source
    try:
        compile(wrapped, "<item>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        if mode == "eval" and exc.lineno == 1 and exc.offset:
            exc.offset = max(exc.offset - len(WRAP), 1)
        return exc
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        return SyntaxError(str(exc) or type(exc).__name__)
    return None


def _issue(name: str, text: str, document: Any, loc: Loc, error: SyntaxError) -> BankIssue:
    """At the line and column inside the YAML value: a block scalar (`|`) starts on the line
    after its indicator; a one-line value starts where the value does."""
    line, column = locate(document, loc)
    lineno, offset = error.lineno or 1, max(error.offset or 1, 1)
    lines = text.splitlines()
    start = lines[line - 1][column - 1 :] if 0 < line <= len(lines) else ""
    if start[:1] in ("|", ">"):
        line += lineno
        body = lines[line - 1] if line <= len(lines) else ""
        column = len(body) - len(body.lstrip(" ")) + offset
    else:
        line += lineno - 1
        column += offset - 1 + (1 if start[:1] in ("'", '"') and lineno == 1 else 0)
    what = error.msg or "invalid syntax"
    message = f"Python syntax error: {what}; fix the code (it is compiled, not run, here)"
    return BankIssue(name, line, column, ".".join(map(str, loc)), message)
