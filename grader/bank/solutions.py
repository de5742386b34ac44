"""`solutions/`, checked against the bank: what `grader selftest` will need, before it runs.

Each code item has `solutions/<id>/` with `reference.py` and `expect.yaml` (`grader.models.expect`);
every `wrong_*.py` there is declared in `expect.yaml` and every declared file exists; the checks
named as failing are the item's; the `accuracy` labels its checks read are there; and no folder
is left for an item the bank does not have. Each problem is a `file:line:column` issue, like the
items' own, so a missing file shows up in `grader validate`, not as an internal error later.

The solutions of an item that varies are templates (grader/variants/templates.py), rendered with
each variant's values before they run (`solution_source`: the self-test and the reference store
read them through it); validation renders them for the bank's variant, seed 0, so a name no param
declares or a template that fails is an issue at its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grader.bank import Bank, located, read_text, validation_issues
from grader.bank.yamlsource import locate, parse_yaml, plain
from grader.errors import BankError, BankIssue
from grader.models import CodeItem, Item
from grader.models.expect import EXPECT_FILE, REFERENCE_FILE, SolutionSet, WrongCase
from grader.models.vocabulary import unknown

Loc = tuple[str | int, ...]


def solution_issues(bank: Bank, folder: Path) -> list[BankIssue]:
    """Every problem of `folder` (the course's solutions/) against the bank's code items."""
    issues: list[BankIssue] = []
    for item in sorted(bank.items.values(), key=lambda i: i.id):
        if isinstance(item, CodeItem) and not item.student:
            issues += item_solution_issues(bank, item, folder / item.id)
    if folder.is_dir():
        issues += [_stray(bank, path) for path in sorted(folder.iterdir()) if _is_stray(bank, path)]
    return issues


def item_solution_issues(bank: Bank, item: CodeItem, folder: Path) -> list[BankIssue]:
    """The problems of one code item's solutions folder ([] when the self-test can run it)."""
    expect = folder / EXPECT_FILE
    if not expect.is_file():
        return [_at_item(bank, item, f"no {expect}; {_needs(item)}")]
    cases, document, issues = read_solution_set(expect)
    if cases is None:
        return issues
    issues = _declared_issues(item, folder, str(expect), document, cases)
    if issues or item.variant is None:
        return issues
    files = [REFERENCE_FILE, *(case.file for case in cases.wrong)]
    return [issue for file in files for issue in _template_issues(item, folder / file)]


def solution_source(item: Item, path: Path) -> str:
    """A solution file as it runs for `item`: rendered with the variant's values when the item
    varies (or is a fixed variant), as written otherwise; `BankError` at the file's line when
    its template does not render."""
    text = path.read_text(encoding="utf-8")
    rendered, issues = rendered_solution(str(path), text, item)
    if rendered is None:
        raise BankError(issues)
    return rendered


def rendered_solution(name: str, text: str, item: Item) -> tuple[str | None, list[BankIssue]]:
    """(the text rendered for `item`'s variant, []), or None and its problems at their lines:
    invalid Jinja2, a name the item's params do not declare, a template that fails."""
    from grader.variants.templates import RenderError, is_template, render_text, template_names

    variant = item.variant
    if variant is None or not is_template(text):
        return text, []
    which = _which(item)
    try:
        unknown = sorted(template_names(text).get((), set()) - set(variant.values))
    except RenderError as exc:
        line = re.search(r"\(line (\d+)\)$", exc.reason)
        return None, [BankIssue(name, int(line[1]) if line else 1, 1, "", exc.reason)]
    if unknown:
        known = ", ".join(variant.values) or "none"
        return None, [
            BankIssue(
                name,
                _line_of(text, word),
                1,
                "",
                f"unknown name {word!r} in this template; the item's params are: {known}",
            )
            for word in unknown
        ]
    try:
        return render_text(text, variant.values), []
    except RenderError as exc:
        return None, [BankIssue(name, _failed_line(exc), 1, "", exc.reason + which)]


def _template_issues(item: Item, path: Path) -> list[BankIssue]:
    text, issue = read_text(path)
    return [issue] if issue else rendered_solution(str(path), text, item)[1]


def _which(item: Item) -> str:
    variant = item.variant
    if variant is None or variant.seed is None:
        return " (in a fixed variant)"
    return f" (in the variant with seed {variant.seed})"


def _line_of(text: str, name: str) -> int:
    """The first line where a template tag reads `name` (1 when none is found)."""
    word = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    for number, line in enumerate(text.splitlines(), 1):
        if ("{{" in line or "{%" in line) and word.search(line):
            return number
    return 1


def _failed_line(exc: Exception) -> int:
    """The template line a rendering failed at: Jinja2 puts the template's own frame, named
    `<template>`, in the traceback of what it raised."""
    line = 1
    tb = exc.__cause__.__traceback__ if exc.__cause__ is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def read_solution_set(path: Path) -> tuple[SolutionSet | None, Any, list[BankIssue]]:
    """An `expect.yaml` read as the bank reads items: (cases, document, []), or None and the
    issues."""
    text, issue = read_text(path)
    if issue:
        return None, None, [issue]
    name = str(path)
    document, issues = parse_yaml(name, text)
    if issues:
        return None, None, issues
    if not isinstance(document, dict):
        return None, document, [located(name, document, (), "expect.yaml must be a mapping")]
    try:
        cases = SolutionSet.model_validate(plain(document))
    except ValidationError as exc:
        return None, document, validation_issues(name, document, exc, SolutionSet)
    problems = cases.problems()
    if problems:
        return None, document, [located(name, document, loc, msg) for loc, msg in problems]
    return cases, document, []


def _declared_issues(
    item: CodeItem, folder: Path, name: str, document: Any, cases: SolutionSet
) -> list[BankIssue]:
    """Files present and declared, checks named by the item, labels in place."""
    problems: list[tuple[Loc, str]] = []
    if not (folder / REFERENCE_FILE).is_file():
        problems.append((("reference",), f"no {folder / REFERENCE_FILE}; {_needs(item)}"))
    declared = {case.file for case in cases.wrong}
    for path in sorted(folder.glob("wrong_*.py")):
        if path.name not in declared:
            problems.append((("wrong",), _undeclared(path.name)))
    checks = [check.name for check in item.checks]
    for index, case in enumerate(cases.wrong):
        if not (folder / case.file).is_file():
            missing = f"no {folder / case.file}; add it or remove this entry"
            problems.append((("wrong", index, "file"), missing))
        for position, failed in enumerate(case.failed):
            if failed not in checks:
                where = ("wrong", index, "failed", position)
                problems.append((where, unknown("check", failed, checks)))
        problems += _sometimes_issues(item, index, case)
    problems += [(("reference",), message) for message in _missing_labels(item, folder)]
    return [located(name, document, loc, message) for loc, message in problems]


def _sometimes_issues(item: CodeItem, index: int, case: WrongCase) -> list[tuple[Loc, str]]:
    """A `sometimes` check is the item's, and its inputs are drawn per run: a check on fixed
    inputs passes or fails the same on every run."""
    checks = {check.name: check for check in item.checks}
    problems: list[tuple[Loc, str]] = []
    for position, name in enumerate(case.sometimes):
        where: Loc = ("wrong", index, "sometimes", position)
        if name not in checks:
            problems.append((where, unknown("check", name, checks)))
        elif not checks[name].varied:
            why = f"{name} runs on the same inputs every time: it fails always or never"
            problems.append((where, why + "; move it to `failed` or drop it"))
    return problems


def _missing_labels(item: CodeItem, folder: Path) -> list[str]:
    """Held-out labels an `accuracy` check reads from the solutions folder."""
    return [
        f"no {folder / check.expect.accuracy.labels}, which check {check.name!r} reads as "
        "its held-out labels; add it"
        for check in item.checks
        if check.expect.accuracy is not None
        and not (folder / check.expect.accuracy.labels).is_file()
    ]


def _undeclared(file: str) -> str:
    return (
        f"{file} is not declared; add `- {{file: {file}, verdict: ..., failed: [...]}}` "
        "under `wrong:`, or delete the file"
    )


def _needs(item: CodeItem) -> str:
    return (
        f"every code item needs solutions/{item.id}/ with {REFERENCE_FILE} (full marks) and "
        f"{EXPECT_FILE} (`grader schema --expect`)"
    )


def _at_item(bank: Bank, item: CodeItem, message: str) -> BankIssue:
    """An issue at the item's `id:` line, for a solutions file that is not there."""
    path = bank.paths[item.id]
    text, _ = read_text(path)
    document, _ = parse_yaml(str(path), text)
    line, column = locate(document, ("id",))
    return BankIssue(str(path), line, column, "id", message)


def _is_stray(bank: Bank, path: Path) -> bool:
    """A folder that is not a course code item's (files beside the folders are left alone)."""
    if not path.is_dir() or path.name in bank.broken:  # a broken item's problems are its own
        return False
    item = bank.items.get(path.name)
    return not (isinstance(item, CodeItem) and not item.student)


def _stray(bank: Bank, path: Path) -> BankIssue:
    name = path.name
    if name in bank.aliases:
        message = f"item {name!r} is now {bank.aliases[name]!r}; rename the folder to match"
    elif name in bank.items:
        message = f"{name!r} is a {bank.items[name].kind} item; only code items have solutions"
    else:
        codes = [i.id for i in bank.items.values() if isinstance(i, CodeItem)]
        message = unknown("code item", name, codes) + "; rename or remove this folder"
    return BankIssue(str(path), 1, 1, "", f"{message} (solutions/ holds one folder per code item)")
