"""Does the submission define what the item's contract names, callable as the checks call it?

Judged on the host from what the runner says the file defines (`defines` in the load's
observation: names, kinds, parameters). The runner is the student's process and may lie: what it
says only changes the report's words and which checks are skipped, and a skipped check scores 0
whatever it observed, so a lie can lower a score, never raise one. Which names a check uses is
read from the check's own code (authored, trusted), never from the run.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from grader.models import Check, CodeItem
from grader.models.code import Contract
from grader.probe.summaries import Definition

#: Names of the file listed when a contract name is missing.
LISTED = 10
NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Declared:
    """A contract entry as the checks use it: a function (with its parameters, when its
    signature parses) or another name."""

    name: str
    function: bool
    params: tuple[str, ...] | None = None
    required: int = 0

    @property
    def call(self) -> str:
        """How the item shows it: `finetune(model, train_loader)`, or the bare name."""
        if not self.function:
            return self.name
        return f"{self.name}({', '.join(self.params or ())})"


@dataclass(frozen=True)
class Unmet:
    """A contract entry the file does not meet: the sentence for the top of the report, and
    the short reason each check that uses the name is skipped with."""

    name: str
    said: str
    reason: str


def declared(contract: Contract) -> Declared:
    """`finetune(model: nn.Module, train_loader) -> nn.Module` as a `Declared`."""
    text = contract.signature.strip().strip("`").strip()
    if not text.startswith(f"{contract.name}("):
        return Declared(contract.name, function=False)
    try:
        tree = ast.parse(f"def {text}:\n    pass\n")
    except SyntaxError:
        return Declared(contract.name, function=True)
    function = tree.body[0]
    if not isinstance(function, ast.FunctionDef):
        return Declared(contract.name, function=True)
    args = function.args
    params = tuple(a.arg for a in [*args.posonlyargs, *args.args])
    return Declared(contract.name, True, params, len(params) - len(args.defaults))


def unmet(item: CodeItem, defines: Sequence[Definition]) -> list[Unmet]:
    """Every contract entry the defined names do not meet, in the contract's order."""
    by_name = {d.get("name"): d for d in defines}
    names = [str(d.get("name")) for d in defines]
    found = []
    for contract in item.contract:
        want = declared(contract)
        seen = by_name.get(want.name)
        problem = missing(want, names) if seen is None else mismatch(want, seen)
        if problem is not None:
            found.append(problem)
    return found


def missing(want: Declared, names: list[str]) -> Unmet:
    listed = ", ".join(f"`{n}`" for n in names[:LISTED]) + (", ..." if len(names) > LISTED else "")
    has = f"it defines: {listed}" if names else "it defines no names of its own"
    said = f"Your file does not define `{want.call}`; {has}."
    close = did_you_mean(want.name, names)
    if close is not None:
        said += f" Did you mean `{close}`?"
    return Unmet(want.name, said, f"`{want.name}` is not defined (see above)")


def did_you_mean(name: str, names: list[str]) -> str | None:
    """The defined name closest to `name` (same letters in another case first)."""
    for other in names:
        if other.lower() == name.lower():
            return other
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return close[0] if close else None


def mismatch(want: Declared, seen: Definition) -> Unmet | None:
    """Why a defined name does not meet its entry: not callable, or other parameters."""
    if not want.function:
        return None
    if seen.get("callable") is not True:
        kind = str(seen.get("type", "value")).rsplit(".", 1)[-1]
        said = f"`{want.name}` in your file is a `{kind}`, not a function `{want.call}`."
        return Unmet(want.name, said, f"`{want.name}` is not a function (see above)")
    params = seen.get("params")
    if want.params is None or not isinstance(params, list) or accepts(params, want):
        return None
    said = (
        f"`{want.name}` in your file takes ({shown(params)}); the checks call it as `{want.call}`."
    )
    return Unmet(want.name, said, f"`{want.name}` takes other parameters (see above)")


def accepts(params: list[list[Any]], want: Declared) -> bool:
    """Whether a function with these parameters takes the declared ones by position, with and
    without those that have defaults. Parameters that do not make a signature: judged met."""
    try:
        signature = inspect.Signature([_parameter(*p) for p in params])
    except (ValueError, TypeError, AttributeError):
        return True
    wanted = want.params or ()
    try:
        signature.bind(*wanted[: want.required])
        signature.bind(*wanted)
    except TypeError:
        return False
    return True


def _parameter(name: str, kind: str, has_default: bool) -> inspect.Parameter:
    default = None if has_default else inspect.Parameter.empty
    return inspect.Parameter(name, getattr(inspect.Parameter, kind), default=default)


def shown(params: list[list[Any]]) -> str:
    """Parameters as a reader knows them: `model, *args, epochs=...`."""
    marks = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}
    return ", ".join(
        f"{marks.get(str(p[1]), '')}{p[0]}{'=...' if p[2] else ''}" for p in params if len(p) == 3
    )


def uses(check: Check, names: Iterable[str]) -> set[str]:
    """Which of `names` the check's target uses: the function it calls, names in its code."""
    wanted = set(names)
    if check.call is not None:
        return {check.call.function} & wanted
    code = check.eval if check.eval is not None else check.exec
    return _code_names(code) & wanted if code is not None else set()


def _code_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(NAME.findall(code))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def direct_callee(check: Check, names: Iterable[str]) -> str | None:
    """The contract function whose return value the check observes as it is (`call` without an
    attribute, `eval: f(...)`, an `exec` ending `result = f(...)`), if any."""
    if check.attribute:
        return None
    wanted = set(names)
    if check.call is not None:
        return check.call.function if check.call.function in wanted else None
    value = _observed_expression(check)
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id if value.func.id in wanted else None
    return None


def _observed_expression(check: Check) -> ast.expr | None:
    try:
        if check.eval is not None:
            return ast.parse(check.eval, mode="eval").body
        body = ast.parse(check.exec or "").body
    except SyntaxError:
        return None
    last = body[-1] if body else None
    if isinstance(last, ast.Assign) and [ast.unparse(t) for t in last.targets] == ["result"]:
        return last.value
    return None
