"""Code exercises: what a check observes (a probe target) and what it expects.

A check names one target (`eval` an expression, `exec` statements that set `result`, or `call` a
student function with inputs), optionally an `attribute` path on it, and an `expect`. The target
becomes a probe the sandbox runs; the expectation stays on the host.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from grader.models.items import KEBAB, ItemBase, Problem, StrictModel, Tolerance
from grader.models.vocabulary import (
    SOURCES,
    input_problems,
    model_problem,
    source_of,
    unknown,
    value_problems,
)


class FromReference(StrictModel):
    """Take the expected value from the reference solution's run (cached by content hash)."""

    from_: Literal["reference"] = Field(alias="from", description="Only `reference` for now.")


class Raises(StrictModel):
    """An exception the target must raise; subclasses count."""

    type: str = Field(
        description="Exception class name, e.g. AttributeError or torch.OutOfMemoryError."
    )
    match: str | None = Field(default=None, description="Regex the message must contain.")


class Trainable(StrictModel):
    """Which parameters of a module must require grad (the rest must not)."""

    names: list[str] | None = Field(
        default=None, description="Exactly these parameter names train (fnmatch patterns allowed)."
    )
    count: int | None = Field(default=None, ge=0, description="How many parameter tensors train.")


class StdoutExpect(StrictModel):
    """What the program printed: exactly one of the three ways to compare."""

    exact: str | None = Field(default=None, description="Byte-for-byte (after the last newline).")
    normalised: str | None = Field(
        default=None, description="Equal after collapsing whitespace and trimming each line."
    )
    regex: str | None = Field(default=None, description="A Python regex searched in the output.")


class Accuracy(StrictModel):
    """Predicted labels scored against held-out labels that stay on the host."""

    labels: str = Field(
        description="JSON list of labels in solutions/<id>/ (never sent to a sandbox)."
    )
    at_least: float = Field(ge=0, le=1, description="Lowest accuracy that passes.")


class Conforms(StrictModel):
    """The value is a model whose weights load strictly into this torchvision architecture and
    whose own forward equals that architecture's (proven from data, never from attributes)."""

    arch: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="A torchvision.models builder.")
    heads: dict[str, tuple[int, int]] = Field(
        default_factory=dict,
        description="Replaced layers: module path -> [out_features, in_features] of a Linear.",
    )
    input: list[int] = Field(
        default=[2, 3, 64, 64], description="Shape of the random batch both forwards run on."
    )

    @field_validator("arch", mode="after")
    @classmethod
    def _buildable(cls, arch: str) -> str:
        problem = model_problem(arch)
        if problem:
            raise PydanticCustomError("unknown_model", problem)
        return arch

    def describe(self) -> str:
        heads = ", ".join(f"{path} of shape {list(shape)}" for path, shape in self.heads.items())
        return f"a torchvision {self.arch}" + (f" with {heads}" if heads else "")


class Expect(StrictModel):
    """What the observed target must show; every given field must hold."""

    no_error: bool | None = Field(default=None, description="The target runs without raising.")
    raises: Raises | None = Field(default=None, description="The target raises this exception.")
    type: str | None = Field(default=None, description="Class name the value is an instance of.")
    types: Any = Field(
        default=None,
        description=(
            "Exact types inside a value, mirroring it: a type name for an element, a list by "
            "position, a map by key (e.g. {accuracy: float} or [[str, float]])."
        ),
    )
    shape: list[int] | FromReference | None = Field(default=None, description="Tensor shape.")
    dtype: str | None = Field(default=None, description="Tensor dtype, e.g. float32.")
    value: Any = Field(
        default=None, description="Number, list, dict or tensor values, or from: reference."
    )
    tolerance: Tolerance | None = Field(default=None, description="For numeric values.")
    trainable: Trainable | None = Field(default=None, description="Parameters that train.")
    stdout: StdoutExpect | None = Field(default=None, description="What the target printed.")
    accuracy: Accuracy | None = Field(
        default=None, description="The target's predicted labels score at least this."
    )
    conforms: Conforms | None = Field(
        default=None, description="The target is a model of this architecture (from its data)."
    )
    step_rates: list[tuple[int, float]] | None = Field(
        default=None,
        description=(
            "The target is (model, optimizer): one step() with gradients of +1/-1 (drawn per "
            "run) moves this many parameter tensors by each rate, [[count, lr], ...] (each "
            "tensor's median rate within 5% of one): SGD, Adam and AdamW move by lr."
        ),
    )

    @field_validator("shape", mode="before")
    @classmethod
    def _known_source(cls, shape: Any) -> Any:
        """`{from: referance}` gets a "did you mean", not pydantic's two union errors."""
        source = source_of(shape)
        if source is not None and source not in SOURCES:
            raise PydanticCustomError("unknown_source", unknown("source", source, SOURCES))
        return shape

    def problems(self) -> list[Problem]:
        """An expected value with an unknown source or a number that is not finite; step rates
        a measured step cannot tell apart."""
        return value_problems(self.value, ("value",)) + step_rate_problems(self.step_rates)


#: Two wanted step rates closer than this ratio could both match one measured rate (each is
#: matched within 5%: `grader.grading.checks.STEP_RATE_TOLERANCE`).
STEP_RATES_APART = 1.11


def step_rate_problems(rates: list[tuple[int, float]] | None) -> list[Problem]:
    """At least one [count, rate]; counts of 1 or more; positive rates, no two alike."""
    if rates is None:
        return []
    if not rates:
        return [(("step_rates",), "give at least one [count, rate]")]
    found: list[Problem] = []
    for index, (count, rate) in enumerate(rates):
        if count < 1:
            found.append((("step_rates", index, 0), "a count of tensors is at least 1"))
        if not (math.isfinite(rate) and rate > 0):
            found.append((("step_rates", index, 1), "a rate is a positive number"))
    ordered = sorted(rate for _, rate in rates if math.isfinite(rate) and rate > 0)
    for low, high in zip(ordered, ordered[1:], strict=False):
        if high < low * STEP_RATES_APART:
            why = f"rates {low:g} and {high:g} are too close for a measured step to tell apart"
            found.append((("step_rates",), why + f" (keep them {STEP_RATES_APART}x apart)"))
    return found


class Call(StrictModel):
    """Call a student function with inputs from YAML ({$tensor: [...]}, {$image: [w, h]}, ...);
    {$randn: shape}, {$randint: shape, high: h} and {$model: name} are drawn afresh per run."""

    function: str = Field(description="Name the submission defines.")
    args: list[Any] = Field(default_factory=list, description="Positional arguments.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")


class Check(StrictModel):
    """One graded check with its own points, message and hint."""

    name: str = Field(pattern=KEBAB, description="Kebab-case name, unique in the item.")
    points: float = Field(default=1, ge=0, description="Marks for passing this check.")
    message: str = Field(min_length=1, description="What the check is about, in a teacher's words.")
    hint: str | None = Field(default=None, description="Shown when the check fails.")
    hidden: bool = Field(default=False, description="Keep expected values out of the report.")
    eval: str | None = Field(default=None, description="Python expression to observe.")
    exec: str | None = Field(
        default=None, description="Statements; the value of `result` is observed."
    )
    call: Call | None = Field(default=None, description="A student function called with inputs.")
    attribute: str | None = Field(default=None, description="Dotted attribute path on the target.")
    expect: Expect = Field(description="What must hold.")

    @model_validator(mode="after")
    def _one_target(self) -> Check:
        targets = [t for t in (self.eval, self.exec, self.call) if t is not None]
        if len(targets) > 1:
            raise ValueError("give at most one of eval, exec or call")
        return self

    def problems(self) -> list[Problem]:
        """Unknown input tags or model names in the call, and the expectation's problems."""
        found: list[Problem] = []
        if self.call is not None:
            found += input_problems(self.call.args, ("call", "args"))
            found += input_problems(self.call.kwargs, ("call", "kwargs"))
        return found + [(("expect", *loc), message) for loc, message in self.expect.problems()]

    def uses_reference(self) -> bool:
        e = self.expect
        return isinstance(e.shape, FromReference) or _is_reference(e.value)

    @cached_property
    def varied(self) -> bool:
        """Whether its inputs are drawn per run (seeded draws, `SEED`, or a conforms batch);
        worked out once per check (every plan of every job asks). Cached on the instance: a
        `model_copy(update=...)` of a Check would keep a stale value (nothing copies one)."""
        code = " ".join(filter(None, [self.eval, self.exec]))
        args = [*self.call.args, *self.call.kwargs.values()] if self.call else []
        proofs = self.expect.conforms is not None or self.expect.step_rates is not None
        return "SEED" in code or _has_draw(args) or proofs


DRAWS = ("$randn", "$randint", "$model")


def _has_draw(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_draw(v) for v in value)
    if isinstance(value, dict):
        return any(k in DRAWS for k in value) or any(_has_draw(v) for v in value.values())
    return False


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("from") == "reference"


class Contract(StrictModel):
    """A name the submission must define."""

    name: str = Field(description="The function or variable name.")
    signature: str = Field(description="How it is called, e.g. `build_model() -> nn.Module`.")
    description: str | None = Field(default=None, description="What it must do.")


class ItemLimits(StrictModel):
    """The sandbox budget for grading this item."""

    wall_s: float = Field(default=60, gt=0, le=600, description="Wall-clock seconds for a run.")
    memory_mb: int = Field(default=2048, ge=64, le=65536, description="Memory in MiB.")
    gpu: Literal["none", "optional", "required"] = Field(default="none", description="GPU need.")

    @property
    def requires_gpu(self) -> bool:
        return self.gpu == "required"


def check_problems(checks: list[Check]) -> list[Problem]:
    """Repeated check names (the report refers to checks by name), and each check's own."""
    seen: set[str] = set()
    found: list[Problem] = []
    for index, check in enumerate(checks):
        if check.name in seen:
            found.append((("checks", index, "name"), f"check name {check.name!r} is used twice"))
        seen.add(check.name)
        found += [(("checks", index, *loc), message) for loc, message in check.problems()]
    return found


def _no_default(schema: dict[str, Any]) -> None:
    """The sentinel default is filled in by the model; editors should not offer it."""
    schema.pop("default", None)


class CodeItem(ItemBase):
    """Write code that meets a contract; graded by running checks in a sandbox."""

    kind: Literal["code"] = Field(description="A code exercise.")
    points: float = Field(
        default=0,  # a sentinel: `_points_of_checks` fills in the checks' sum
        ge=0,
        description=(
            "Marks for a fully correct answer: the sum of the checks' points, which it defaults "
            "to. Students see both (`grader show` and the report), so another value is an error."
        ),
        json_schema_extra=_no_default,
    )
    starter: str = Field(description="Code the student starts from.")
    contract: list[Contract] = Field(min_length=1, description="Names the submission defines.")
    limits: ItemLimits = Field(default_factory=ItemLimits, description="Sandbox budget.")
    data: list[str] = Field(
        default_factory=list, description="Files from the bank's data/ folder given to the run."
    )
    held_out: list[str] = Field(
        default_factory=list,
        description="Of `data`, the files only non-public checks read (held-out inputs): given to "
        "grading runs, never to students (`grader bank export --student` leaves them out).",
    )
    checks: list[Check] = Field(min_length=1, description="What is graded, in order.")

    @model_validator(mode="after")
    def _points_of_checks(self) -> CodeItem:
        """Unsaid, an item is worth what its checks are (the report's `max_score`)."""
        if "points" not in self.model_fields_set:
            object.__setattr__(self, "points", self.checks_points)  # frozen: set while building
        return self

    @property
    def checks_points(self) -> float:
        """What a report of this item is out of: the sum of its checks' points."""
        return sum(check.points for check in self.checks)

    def problems(self) -> list[Problem]:
        found = check_problems(self.checks) + self._points_problems()
        for index, name in enumerate(self.held_out):
            if name not in self.data:
                found.append((("held_out", index), f"{name!r} is not one of the item's data files"))
        return found

    @property
    def draws_inputs(self) -> bool:
        """Whether a check's inputs are drawn per run (`Check.varied`): a run takes one seed of
        the item's pool, and the self-test's `--every-draw` grades on each."""
        return any(check.varied for check in self.checks)

    def _points_problems(self) -> list[Problem]:
        """`points` and the checks' sum must agree: a student would see "1 point(s)" beside a
        score out of 10. A student bank's item keeps the course item's points with only the
        public checks, so its sum may be lower."""
        total = self.checks_points
        if self.student:
            return []
        if total <= 0:
            return [(("checks",), "the checks' points add up to 0; give some check points")]
        if math.isclose(self.points, total):
            return []
        return [
            (
                ("points",),
                f"points {self.points:g} differs from the sum of the checks' points ({total:g}), "
                "which is what reports are out of; remove `points` (it defaults to that sum) "
                "or change the checks' points",
            )
        ]

    @property
    def needs_gpu(self) -> bool:
        return self.limits.requires_gpu

    def public(self) -> dict[str, Any]:
        view = super().public()
        view["starter"] = self.starter
        view["contract"] = [c.model_dump(mode="json") for c in self.contract]
        view["checks"] = [
            {"name": c.name, "points": c.points, "message": c.message} for c in self.checks
        ]
        return view


class PredictItem(ItemBase):
    """Predict what a snippet prints or what shape it makes; the key is computed by running it."""

    kind: Literal["predict"] = Field(description="Predict the output of a snippet.")
    snippet: str = Field(min_length=1, description="The code shown to the student and run.")
    answer_type: Literal["shape", "text"] = Field(
        default="text", description="`shape`: compared as integer tuples; `text`: as printed."
    )
    limits: ItemLimits = Field(default_factory=ItemLimits, description="Sandbox budget.")

    @property
    def needs_gpu(self) -> bool:
        return self.limits.requires_gpu

    def public(self) -> dict[str, Any]:
        view = super().public()
        view["snippet"] = self.snippet
        view["answer_type"] = self.answer_type
        return view
