"""Expectation vs observation: one small function per kind of expectation.

Every evaluator is called the same way, `evaluator(spec, seen)`: `spec` is its field of the
check's `Expect`, `seen` what the judge knows for this check (`Seen`). Each returns a `Finding`
(did it hold, what was expected, what was observed) in words a student can act on; `judge` turns a
check and its observation into a `CheckResult`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from grader.errors import ReferenceMissing
from grader.models import Check, CheckResult, Expect, Tolerance
from grader.models.code import Accuracy, Conforms, FromReference, Raises, StdoutExpect, Trainable
from grader.probe.summaries import (
    ErrorSummary,
    Observation,
    ValueSummary,
    describe_error,
    plain,
    short,
)


@dataclass(frozen=True)
class Finding:
    ok: bool
    expected: str
    observed: str


@dataclass(frozen=True)
class Seen:
    """What the judge knows for one check, the same for every evaluator of it."""

    #: The student's value as the observer summarised it ({} when there is none).
    result: ValueSummary
    #: The whole observation: `result`, `error`, `stdout`.
    observation: Observation
    #: The reference solution's observation for this check, when the check uses one.
    reference: Observation | None = None
    #: Held-out labels for `accuracy` (they stay on the host).
    labels: tuple[Any, ...] = ()
    #: How close numbers must be for `value`: the one expectation that qualifies another.
    tolerance: Tolerance | None = None

    @classmethod
    def of(
        cls,
        expect: Expect,
        observation: Observation | None,
        reference: Observation | None,
        labels: list[Any] | None,
    ) -> Seen:
        found = observation or {}
        result = found.get("result") or {}
        return cls(result, found, reference, tuple(labels or ()), expect.tolerance)

    @property
    def error(self) -> ErrorSummary | None:
        error: ErrorSummary | None = self.observation.get("error")
        return error

    def reference_result(self) -> ValueSummary:
        """The reference's value; `ReferenceMissing` when its run gave none (the grader's
        fault, not the student's)."""
        if not self.reference or "result" not in self.reference:
            raise ReferenceMissing("the reference solution gave no value for this check")
        result: ValueSummary = self.reference["result"]
        return result


#: `evaluator(spec, seen)`: `spec` is the evaluator's own field of `Expect`, typed by each.
Evaluator = Callable[[Any, Seen], Finding]


def judge(
    check: Check,
    observation: Observation | None,
    reference: Observation | None = None,
    labels: list[Any] | None = None,
) -> CheckResult:
    """Grade one check against what the sandbox observed (and the reference's observation)."""
    seen = Seen.of(check.expect, observation, reference, labels)
    findings = _findings(check.expect, observation, seen)
    # Accuracy is judged on the host after the others, whenever there is an observation without
    # an error (even one that could not be read: then it fails too).
    if check.expect.accuracy is not None and observation and "error" not in observation:
        findings.append(accuracy(check.expect.accuracy, seen))
    return _result(check, findings)


def _result(check: Check, findings: list[Finding]) -> CheckResult:
    """All findings when every one held, else only those that failed, in the check's words."""
    failed = [f for f in findings if not f.ok]
    passed = not failed
    shown = findings if passed else failed
    expected = "; ".join(f.expected for f in shown)
    observed = "; ".join(f.observed for f in shown)
    message = check.message
    if not passed:
        message += (
            f" Expected {expected}; observed {observed}."
            if not check.hidden
            else f" Observed {observed}; the expected value is hidden."
        )
    return CheckResult(
        name=check.name,
        passed=passed,
        score=check.points if passed else 0.0,
        max_score=check.points,
        message=message,
        hint=check.hint,
        expected=None if check.hidden else expected,
        observed=observed,
    )


def _findings(expect: Expect, observation: Observation | None, seen: Seen) -> list[Finding]:
    """Gates first (did it run, could it be read, did it raise), then every evaluator given."""
    if observation is None:
        return [Finding(False, "this check to run", "the program stopped before it ran")]
    if "unreadable" in observation:
        return [Finding(False, "output that can be read", "output that could not be read")]
    if expect.raises is not None:
        return [raises(expect.raises, seen)]
    if seen.error is not None:
        return [Finding(False, "no error", describe_error(seen.error))]
    found = [Finding(True, "no error", "no error")]
    for name, spec in expect:  # in the order `Expect` declares its fields
        if spec is not None and name in EVALUATORS:
            found.append(EVALUATORS[name](spec, seen))
    return found


def raises(spec: Raises, seen: Seen) -> Finding:
    wanted = f"{spec.type}" + (f" matching /{spec.match}/" if spec.match else "")
    error = seen.error
    if error is None:
        return Finding(False, wanted, "no exception")
    ok = _is_a(spec.type, error.get("mro", []))
    if ok and spec.match:
        ok = re.search(spec.match, str(error.get("message", ""))) is not None
    return Finding(ok, wanted, describe_error(error))


#: Built-in types are checked exactly: a `float` is a float, not a class named like one.
EXACT = frozenset({"float", "int", "str", "bool", "list", "dict", "tuple", "NoneType", "bytes"})


def _is_a(name: str, mro: list[str]) -> bool:
    return any(m == name or m.endswith("." + name) for m in mro)


def type_of(spec: str, seen: Seen) -> Finding:
    kind = seen.result.get("type")
    ok = kind == spec if spec in EXACT else _is_a(spec, seen.result.get("mro", []))
    return Finding(ok, f"a {spec}", f"a {kind}")


def types_of(spec: Any, seen: Seen) -> Finding:
    """Exact types inside a value, as data crossed the wire (a tensor named float is a tensor)."""
    wanted, got = _type_tree(spec), _seen_types(spec, seen.result)
    return Finding(wanted == got, f"types {short(wanted)}", f"types {short(got)}")


def _type_tree(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {k: _type_tree(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_type_tree(v) for v in spec]
    return str(spec)


def _seen_types(spec: Any, result: Any) -> Any:
    if not isinstance(result, dict):
        return None
    items = result.get("items")
    if isinstance(spec, dict) and isinstance(items, dict):
        return {k: _seen_types(spec.get(k), v) for k, v in items.items()}
    if isinstance(spec, list) and isinstance(items, list):
        specs = spec + [None] * (len(items) - len(spec))
        return [_seen_types(s, v) for s, v in zip(specs, items, strict=False)]
    return result.get("type")


#: How close a measured step rate must be to the one wanted: AdamW's default weight decay moves
#: a weight of 1.0 by lr * (1 +/- 0.01), which the observer's two digits show as 9.9e-05 or 1e-4.
STEP_RATE_TOLERANCE = 0.05


def step_rates(spec: list[tuple[int, float]], seen: Seen) -> Finding:
    """Rates the observer measured from before/after weights and gradients it drew itself:
    every measured group within 5% of a wanted rate, and each wanted rate's groups holding that
    many tensors."""
    found = seen.result.get("step_rates")
    wanted = [[count, rate] for count, rate in spec]
    if not isinstance(found, list):
        return Finding(False, f"steps {wanted}", str(found or f"a {seen.result.get('type')}"))
    ok = _tensors_per_rate(found, [rate for _, rate in spec]) == [count for count, _ in spec]
    return Finding(ok, f"[tensors, rate] {wanted}", f"[tensors, rate] {short(found)}")


def _tensors_per_rate(found: list[Any], rates: list[float]) -> list[int] | None:
    """How many tensors each wanted rate moved, or None for a group at no wanted rate."""
    counts = [0] * len(rates)
    for group in found:
        ok = isinstance(group, list) and len(group) == 2 and _whole(group[0]) and _number(group[1])
        near = [
            k
            for k, rate in enumerate(rates)
            if ok and math.isclose(group[1], rate, rel_tol=STEP_RATE_TOLERANCE)
        ]
        if not near:
            return None
        counts[min(near, key=lambda k: abs(group[1] - rates[k]) / rates[k])] += group[0]
    return counts


def conforms(spec: Conforms, seen: Seen) -> Finding:
    """Proven in the observer: strict load of the weights, and the same forward."""
    found = seen.result.get("conforms")
    ok = isinstance(found, dict) and found.get("ok") is True
    why = found.get("why") if isinstance(found, dict) else None
    observed = "a model that is one" if ok else str(why or f"a {seen.result.get('type')}")
    return Finding(ok, spec.describe(), observed)


def shape(spec: list[int] | FromReference, seen: Seen) -> Finding:
    wanted = seen.reference_result().get("shape") if isinstance(spec, FromReference) else spec
    got = seen.result.get("shape")
    return Finding(
        got is not None and got == wanted,
        f"shape {wanted}",
        f"shape {got}" if got is not None else f"a {seen.result.get('type')} (no shape)",
    )


def dtype(spec: str, seen: Seen) -> Finding:
    wanted, got = spec.removeprefix("torch."), seen.result.get("dtype")
    return Finding(got == wanted, f"dtype {wanted}", f"dtype {got}")


def value(spec: Any, seen: Seen) -> Finding:
    wanted = plain(seen.reference_result()) if _from_reference(spec) else spec
    got = plain(seen.result)
    ok = close(wanted, got, seen.tolerance)
    return Finding(ok, short(wanted), short(got))


def trainable(spec: Trainable, seen: Seen) -> Finding:
    names = seen.result.get("trainable")
    if names is None:
        return Finding(False, "a model", f"a {seen.result.get('type')}")
    ok = spec.count is None or len(names) == spec.count
    if spec.names is not None:
        covered = all(any(fnmatchcase(n, p) for p in spec.names) for n in names)
        ok = ok and covered and all(any(fnmatchcase(n, p) for n in names) for p in spec.names)
    wanted = f"trainable {spec.names if spec.names is not None else spec.count}"
    return Finding(ok, wanted, f"trainable {short(names)}")


def stdout(spec: StdoutExpect, seen: Seen) -> Finding:
    printed = str(seen.observation.get("stdout", ""))
    if spec.regex is not None:
        return Finding(
            re.search(spec.regex, printed) is not None,
            f"output matching /{spec.regex}/",
            short(printed),
        )
    if spec.exact is not None:
        return Finding(printed == spec.exact, short(spec.exact), short(printed))
    wanted = spec.normalised or ""
    return Finding(normalise(printed) == normalise(wanted), short(wanted), short(printed))


def accuracy(spec: Accuracy, seen: Seen) -> Finding:
    """Share of predicted labels equal to the held-out labels (host-side only)."""
    predicted, labels, at_least = plain(seen.result), seen.labels, spec.at_least
    if not isinstance(predicted, list) or len(predicted) != len(labels) or not labels:
        return Finding(False, f"{len(labels)} predicted labels", short(predicted))
    right = sum(_number(p) and p == t for p, t in zip(predicted, labels, strict=True))
    score = right / len(labels)
    return Finding(score >= at_least, f"accuracy at least {at_least:.2f}", f"accuracy {score:.3f}")


def normalise(text: str) -> str:
    """Whitespace collapsed within lines, lines trimmed, blank lines at the ends dropped."""
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines())


def close(wanted: Any, got: Any, tolerance: Tolerance | None) -> bool:
    """Deep comparison; numbers within the tolerance (default: integers equal, other numbers
    within relative 1e-6)."""
    if isinstance(wanted, dict):
        return (
            isinstance(got, dict)
            and wanted.keys() == got.keys()
            and all(close(wanted[k], got[k], tolerance) for k in wanted)
        )
    if isinstance(wanted, (list, tuple)):
        flat_w, flat_g = _flatten(wanted), _flatten(got) if isinstance(got, list) else None
        return (
            flat_g is not None
            and len(flat_w) == len(flat_g)
            and all(close(w, g, tolerance) for w, g in zip(flat_w, flat_g, strict=True))
        )
    if _number(wanted) and _number(got):
        if tolerance is None and isinstance(wanted, int) and isinstance(got, int):
            return wanted == got  # counts are exact: 1e-6 of 11 million weights is 11 of them
        return _numbers_close(float(wanted), float(got), tolerance)
    return bool(wanted == got)


def _numbers_close(wanted: float, got: float, tolerance: Tolerance | None) -> bool:
    if math.isnan(wanted) or math.isnan(got):
        return math.isnan(wanted) and math.isnan(got)
    if tolerance is None:
        return math.isclose(wanted, got, rel_tol=1e-6, abs_tol=1e-9)
    return tolerance.accepts(wanted, got)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _flatten(values: list[Any] | tuple[Any, ...]) -> list[Any]:
    flat: list[Any] = []
    for item in values:
        flat.extend(_flatten(item) if isinstance(item, (list, tuple)) else [item])
    return flat


def _from_reference(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("from") == "reference"


#: The evaluator of each field of `Expect` that is one (`raises` and `no_error` are gates before
#: them, `tolerance` qualifies `value`, `accuracy` is judged after them).
EVALUATORS: dict[str, Evaluator] = {
    "type": type_of,
    "shape": shape,
    "dtype": dtype,
    "value": value,
    "trainable": trainable,
    "stdout": stdout,
    "conforms": conforms,
    "types": types_of,
    "step_rates": step_rates,
}
