"""Loading an item that varies: its params, its templates, its variant of seed 0, its fixed
variants, each problem at `file:line:column` of the template it comes from.

In order, stopping at the first step with problems (each needs the one before):

1. the params: each a known generator with a valid range;
2. the templates: valid Jinja2, reading only declared params, and every param read by one (a
   student bank's item keeps params only its keys read, so the draw stays the course's);
3. the variant of seed 0: rendered and validated as an item of its kind, a problem that comes
   from a rendered value saying "in the variant with seed 0";
4. each fixed alias: its values rendered and validated the same way.

The item returned is the variant of seed 0, its template in `_source`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.bank import checked_item, located, validation_issues
from grader.errors import BadVariant, BankIssue
from grader.models import Item
from grader.models.items import FixedAlias
from grader.variants.params import ParamName, ParamSpec, draw, fixed_values
from grader.variants.templates import RenderError, is_template, render_document, template_names

Loc = tuple[str | int, ...]
SEED_0 = " (in the variant with seed 0)"


class _Params(BaseModel):
    """The params alone, validated before anything reads them."""

    model_config = ConfigDict(extra="ignore")
    params: dict[ParamName, ParamSpec] = Field(default_factory=dict)


def validate_template(
    name: str, stem: str, document: dict[str, Any], text: str
) -> tuple[Item | None, list[BankIssue]]:
    """The variant of seed 0 of a template item file, or every problem of the first step
    that has some."""
    from grader.bank.yamlsource import plain

    data: dict[str, Any] = plain(document)
    try:
        specs = _Params.model_validate(data).params
    except ValidationError as exc:
        return None, validation_issues(name, document, exc, _Params)
    issues = template_issues(name, document, data, specs)
    if issues:
        return None, issues
    item_id = data["id"] if isinstance(data.get("id"), str) else stem
    item, issues = _rendered(name, stem, document, data, draw(specs, item_id, 0), text, SEED_0)
    if item is None:
        return None, issues
    issues = _fixed_issues(name, stem, document, data, item, text)
    if issues:
        return None, issues
    item._source = data
    from grader.variants import materialise

    try:
        return materialise(item, 0), []
    except BadVariant as exc:  # validated above: only a bug gets here
        return None, [located(name, document, (), str(exc))]


def template_issues(
    name: str, document: Any, data: dict[str, Any], specs: dict[str, Any]
) -> list[BankIssue]:
    """Templates that are not valid Jinja2 or read an undeclared name, and params no template
    reads (not counted for a student item, whose key templates were left out)."""
    issues: list[BankIssue] = []
    read: set[str] = set()
    known = ", ".join(specs) or "none"
    for loc, used in _names(name, document, data, issues).items():
        read |= used
        for unknown in sorted(used - set(specs)):
            message = (
                f"unknown name {unknown!r} in this template; declare it under `params:` or "
                f"fix its spelling (params: {known})"
            )
            issues.append(located(name, document, loc, message))
    if not data.get("student"):
        for unused in (param for param in specs if param not in read):
            message = f"param {unused!r} is read by no template; use it or remove it"
            issues.append(located(name, document, ("params", unused), message))
    return issues


def _names(
    name: str, document: Any, data: dict[str, Any], issues: list[BankIssue]
) -> dict[Loc, set[str]]:
    """The names each template reads; one that does not parse is an issue, and reads none."""
    from grader.variants.templates import templates

    found: dict[Loc, set[str]] = {}
    for loc, text in templates(data):
        try:
            found[loc] = template_names(text)[()]
        except RenderError as exc:
            issues.append(located(name, document, loc, exc.reason))
    return found


def _rendered(
    name: str,
    stem: str,
    document: Any,
    data: dict[str, Any],
    values: dict[str, Any],
    text: str,
    which: str,
) -> tuple[Item | None, list[BankIssue]]:
    """The document rendered with `values` and checked as an item (options in file order, so
    each problem's path is the file's)."""
    try:
        rendered = render_document(data, values)
    except RenderError as exc:
        return None, [located(name, document, exc.loc, exc.reason + which)]
    return checked_item(name, stem, document, rendered, text, _noted(data, which))


def _noted(data: dict[str, Any], which: str) -> Callable[[Loc], str]:
    """What a problem at `loc` adds: which variant, when a template gave the value there."""

    def note(loc: Loc) -> str:
        node: Any = data
        for key in loc:
            if is_template(node):
                return which
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return ""
        return which if is_template(node) else ""

    return note


def _fixed_issues(
    name: str, stem: str, document: Any, data: dict[str, Any], item: Item, text: str
) -> list[BankIssue]:
    """Each fixed alias's variant, rendered with its values and checked as the item was."""
    issues: list[BankIssue] = []
    for alias in item.aliases:
        if isinstance(alias, FixedAlias):
            values = fixed_values(item.params, alias.params)
            which = f" (in the fixed variant {alias.id!r})"
            issues += _rendered(name, stem, document, data, values, text, which)[1]
    return issues
