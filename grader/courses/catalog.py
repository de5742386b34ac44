"""The course's assignments: `assignments/*.yaml` read, validated against the bank, located.

Every problem is a `BankIssue` with `file:line:column`, as for items, and loading goes on past a
bad file so `grader validate` lists every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grader.bank import Bank, located, read_text, validation_issues
from grader.bank.yamlsource import parse_yaml, plain
from grader.errors import BankError, BankIssue, UnknownQuestion
from grader.models.assignment import Assignment

SUFFIXES = (".yaml", ".yml")


@dataclass
class Catalog:
    """Assignments by id, and the problems of the files that failed."""

    assignments: dict[str, Assignment] = field(default_factory=dict)
    issues: list[BankIssue] = field(default_factory=list)
    broken: dict[str, list[BankIssue]] = field(default_factory=dict)

    def get(self, assignment_id: str) -> Assignment:
        if assignment_id in self.assignments:
            return self.assignments[assignment_id]
        if assignment_id in self.broken:
            raise BankError(self.broken[assignment_id])
        raise UnknownQuestion(f"unknown assignment {assignment_id!r}")

    def for_course(self, course: str | None) -> list[Assignment]:
        return sorted(
            (a for a in self.assignments.values() if a.course == course), key=lambda a: a.due
        )


def load_catalog(folder: Path, bank: Bank) -> Catalog:
    """Every assignment under `folder` (none when it does not exist), checked against `bank`."""
    catalog = Catalog()
    files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES) if folder.is_dir() else []
    for path in files:
        assignment, issues = load_assignment(path, bank)
        if assignment is None:
            catalog.issues.extend(issues)
            catalog.broken[path.stem] = issues
        elif assignment.id in catalog.assignments:
            message = f"duplicate assignment id {assignment.id!r}; ids must be unique: rename one"
            catalog.issues.append(BankIssue(str(path), 1, 1, "id", message))
            catalog.broken[path.stem] = catalog.issues[-1:]
        else:
            catalog.assignments[assignment.id] = assignment
    return catalog


def load_assignment(path: Path, bank: Bank) -> tuple[Assignment | None, list[BankIssue]]:
    text, issue = read_text(path)
    if issue:
        return None, [issue]
    document, issues = parse_yaml(str(path), text)
    if issues:
        return None, issues
    return validate_assignment(str(path), path.stem, document, bank)


def validate_assignment(
    name: str, stem: str, document: Any, bank: Bank
) -> tuple[Assignment | None, list[BankIssue]]:
    if not isinstance(document, dict):
        return None, [located(name, document, (), "an assignment must be a YAML mapping")]
    try:
        assignment = Assignment.model_validate(plain(document))
    except ValidationError as exc:
        return None, validation_issues(name, document, exc, Assignment)
    problems = assignment.problems()
    if assignment.id != stem:
        problems.append((("id",), f"id {assignment.id!r} differs from the file name {stem!r}"))
    for index, entry in enumerate(assignment.items):
        if entry.id in bank.aliases and not _fixed_variant(bank, entry.id):
            renamed = f"item {entry.id!r} is now {bank.aliases[entry.id]!r}; list it by its id"
            problems.append((("items", index, "id"), renamed))
        elif entry.id not in bank.items and entry.id not in bank.aliases:
            problems.append((("items", index, "id"), f"no item {entry.id!r} in the bank"))
    if problems:
        return None, [located(name, document, loc, message) for loc, message in problems]
    return assignment, []


def _fixed_variant(bank: Bank, alias: str) -> bool:
    """Whether `alias` names a fixed variant (its own numbers, its own question), which an
    assignment lists by that id; a plain alias is a former name, listed by the item's id."""
    return bank.items[bank.aliases[alias]].fixed_alias(alias) is not None
