"""An item's strings as Jinja2 templates, rendered with a variant's values.

Every string value of an item document is a template, except under the keys in `LITERAL` (at any
depth: a choice's `id` and a check's `points` are as fixed as the item's). A string that is
exactly one expression, `{{ expr }}`, renders to the expression's own value (`"{{ classes }}"` is
the int 7, `"{{ (cm.tp / cm.total) | round(3) }}"` a float), so keys and shapes are computed by
expressions, never by `eval`; any other string renders to text. Only strings holding Jinja syntax
are touched.

Rendering is sandboxed (`ImmutableSandboxedEnvironment`: no `''.__class__`, no mutating a
value), strict (an unknown name is an error, never an empty string), and bounded: a text or value
over `MAX_RENDERED` bytes is an error, and so is a repetition (`'x' * 10**9`) or a power that
would make one. Jinja2 is imported on the first render, never by a bank of static items.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from grader.errors import BadVariant

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

Loc = tuple[str | int, ...]
#: Keys whose values are never templates, at any depth of the document.
LITERAL = frozenset(
    {
        "schema_version",
        "id",
        "kind",
        "params",
        "aliases",
        "tags",
        "difficulty",
        "points",
        "student",
        "shuffle",
        "source",
    }
)
#: The most a rendered text (or a native value, as Python writes it) may hold.
MAX_RENDERED = 256 * 1024
#: Jinja syntax: only strings holding one of these are templates.
MARKERS = ("{{", "{%", "{#")
NATIVE = re.compile(r"\s*\{\{(?P<expr>.*)\}\}\s*", re.DOTALL)
#: What a template may compute: plain values, as YAML could have written them.
PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


class RenderError(BadVariant):
    """Raised when a template cannot be parsed or rendered; `loc` is its field path."""

    def __init__(self, loc: Loc, reason: str) -> None:
        self.loc = loc
        self.reason = reason
        where = ".".join(map(str, loc))
        super().__init__(f"{where}: {reason}" if where else reason)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and any(marker in value for marker in MARKERS)


def templates(document: Any, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every template string of a document, with its field path."""
    if isinstance(document, Mapping):
        for key, value in document.items():
            if key not in LITERAL:
                yield from templates(value, (*loc, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from templates(value, (*loc, index))
    elif is_template(document):
        yield loc, document


def template_names(document: Any) -> dict[Loc, set[str]]:
    """The names each template string reads (Jinja's globals, such as `range`, left out);
    `RenderError` at the first that is not valid Jinja."""
    from jinja2 import TemplateSyntaxError, meta

    env = environment()
    found: dict[Loc, set[str]] = {}
    for loc, text in templates(document):
        try:
            names = meta.find_undeclared_variables(env.parse(text))
        except TemplateSyntaxError as exc:
            raise RenderError(loc, f"invalid template: {exc.message} (line {exc.lineno})") from exc
        found[loc] = set(names) - set(env.globals)
    return found


def render_document(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A new plain document: each template rendered with `values`, the rest copied."""
    rendered = _render(document, values, ())
    assert isinstance(rendered, dict)
    return rendered


def _render(value: Any, values: Mapping[str, Any], loc: Loc) -> Any:
    if isinstance(value, Mapping):
        return {
            key: item if key in LITERAL else _render(item, values, (*loc, key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_render(item, values, (*loc, index)) for index, item in enumerate(value)]
    if is_template(value):
        return render_value(value, values, loc)
    return value


def render_value(text: str, values: Mapping[str, Any], loc: Loc = ()) -> Any:
    """One template: the native value of a lone `{{ expr }}`, else the rendered text."""
    native = _native_expression(text)
    try:
        result = _evaluate(native, values) if native is not None else _text(text, values)
    except _failures() as exc:
        raise RenderError(loc, _failure(exc)) from exc
    _bounded(result, loc)
    return result


def render_text(text: str, values: Mapping[str, Any]) -> str:
    """A whole text (a solution file) rendered with `values`, as text whatever it holds."""
    try:
        result = _text(text, values)
    except _failures() as exc:
        raise RenderError((), _failure(exc)) from exc
    _bounded(result, ())
    return result


def _native_expression(text: str) -> str | None:
    match = NATIVE.fullmatch(text)
    if match is None:
        return None
    expr = match["expr"]
    return None if "{{" in expr or "}}" in expr else expr


def _evaluate(expr: str, values: Mapping[str, Any]) -> Any:
    from jinja2 import Undefined

    result = _expression(expr)(**values)
    if isinstance(result, Undefined):
        str(result)  # raises the undefined name's (or the refused attribute's) error
    return _plain(result)


def _text(text: str, values: Mapping[str, Any]) -> str:
    return _template(text).render(**values)


# Compiling a template is most of rendering it (Jinja2 generates and compiles Python): each is
# compiled once per process, so a server rendering every student's variant compiles none again.
@lru_cache(maxsize=4096)
def _template(text: str) -> Template:
    return environment().from_string(text)


@lru_cache(maxsize=4096)
def _expression(expr: str) -> Callable[..., Any]:
    return environment().compile_expression(expr, undefined_to_none=False)


def _plain(value: Any) -> Any:
    """A computed value as YAML could hold it (a tuple as a list); `TypeError` for anything
    else (a range, a generator, a Jinja object): an item holds data, not Python objects."""
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if type(value) in PLAIN:
        return value
    raise TypeError(
        f"the expression gives a {type(value).__name__}, not a plain value "
        "(text, number, boolean, list or mapping); add `| list` or `| string`"
    )


def _bounded(result: Any, loc: Loc) -> None:
    size = len(result.encode()) if isinstance(result, str) else len(repr(result))
    if size > MAX_RENDERED:
        raise RenderError(loc, f"renders to {size} bytes, over the {MAX_RENDERED} allowed")


def _failures() -> tuple[type[Exception], ...]:
    """What rendering an author's template may raise: Jinja's own errors (a syntax error, an
    unknown name, a refused attribute) and whatever a filter or the arithmetic raises."""
    from jinja2 import TemplateError

    return (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError)


def _failure(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"the template fails: {message} ({type(exc).__name__})"


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The one Jinja environment: sandboxed, immutable, strict, no escaping, newlines kept."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Bounded(ImmutableSandboxedEnvironment):
        """Refuses the two operators that build a huge value from a short template."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and _huge_power(left, right):
                raise SecurityError(f"{left!r} ** {right!r} is too large a power")
            if operator == "*" and _huge_repeat(left, right):
                raise SecurityError("the repetition would exceed the rendered size limit")
            return super().call_binop(context, operator, left, right)

    return Bounded(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _huge_power(base: Any, exponent: Any) -> bool:
    """An integer power of more than 100,000 bits (floats overflow to an error by themselves)."""
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in (base, exponent))
    return whole and exponent > 0 and abs(base).bit_length() * exponent > 100_000


def _huge_repeat(left: Any, right: Any) -> bool:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count > MAX_RENDERED
    return False
