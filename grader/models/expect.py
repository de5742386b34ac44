"""`solutions/<id>/expect.yaml`: what the self-test must see for a code item's solutions.

    reference: reference.py
    wrong:
      - file: wrong_forgot_head.py
        verdict: WRONG_ANSWER
        failed: [output-shape, fc-out-features]
      - file: wrong_f1_arithmetic_mean.py
        verdict: WRONG_ANSWER
        failed: [small-example]
        sometimes: [random-vectors]     # right on a draw where FP = FN

`failed` lists the checks that fail on every run; `sometimes` the checks on inputs drawn per run
that fail on some draws only (the self-test accepts them failed or passed).

`grader validate` checks each file against its item (every `wrong_*.py` declared, every declared
file present, failed checks named by the item); `grader schema --expect` prints the JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from grader.models.items import KEBAB, Problem, StrictModel
from grader.models.report import Verdict

EXPECT_FILE = "expect.yaml"
REFERENCE_FILE = "reference.py"
#: What a wrong solution's file is called: `grader validate` finds the undeclared ones by it.
WRONG_FILE = r"^wrong_[A-Za-z0-9_]+\.py$"
#: Verdicts a wrong solution can get: PASSED is the reference's, INTERNAL_ERROR the grader's.
WRONG_VERDICTS = (
    Verdict.WRONG_ANSWER,
    Verdict.RUNTIME_ERROR,
    Verdict.TIME_LIMIT,
    Verdict.MEMORY_LIMIT,
    Verdict.OUTPUT_LIMIT,
)


def _wrong_verdicts_only(schema: dict[str, Any]) -> None:
    schema.pop("$ref", None)
    schema["enum"] = [verdict.value for verdict in WRONG_VERDICTS]


class WrongCase(StrictModel):
    """A wrong solution and what grading it must give."""

    file: str = Field(
        pattern=WRONG_FILE, description="A `wrong_*.py` file in the item's solutions folder."
    )
    verdict: Verdict = Field(
        description="The verdict it must get: " + ", ".join(WRONG_VERDICTS) + ".",
        json_schema_extra=_wrong_verdicts_only,
    )
    failed: list[Annotated[str, Field(pattern=KEBAB)]] = Field(
        default_factory=list,
        description="Exactly the checks that fail on every run (names of the item's checks).",
    )
    sometimes: list[Annotated[str, Field(pattern=KEBAB)]] = Field(
        default_factory=list,
        description="Checks with inputs drawn afresh per run that it fails on some draws only "
        "(an F1 from the arithmetic mean is right whenever precision equals recall): failing "
        "them or not is as declared.",
    )

    @field_validator("verdict", mode="after")
    @classmethod
    def _a_wrong_verdict(cls, verdict: Verdict) -> Verdict:
        if verdict not in WRONG_VERDICTS:
            raise ValueError(f"a wrong solution's verdict is one of {', '.join(WRONG_VERDICTS)}")
        return verdict


_NOTHING_ALWAYS = (
    "name the checks it fails on every run in `failed`: a wrong answer fails at least one, and "
    "one that fails only `sometimes` checks passes on some draws (it proves nothing)"
)


class SolutionSet(StrictModel):
    """The reference solution and the wrong ones, each with the verdict it must get."""

    schema_version: Literal[1] = Field(
        default=1, description="Version of this file format; currently 1."
    )
    reference: Literal["reference.py"] = Field(
        default="reference.py",
        description="The reference solution: always reference.py, which also gives the "
        "checks' `from: reference` values. It must pass with full marks.",
    )
    wrong: list[WrongCase] = Field(
        default_factory=list, description="Solutions that must fail, as declared."
    )

    def problems(self) -> list[Problem]:
        """A wrong solution declared twice; a check both always and sometimes failed; no check
        failed on every run by a wrong answer, or by one with `sometimes` checks."""
        seen: set[str] = set()
        found: list[Problem] = []
        for index, case in enumerate(self.wrong):
            if case.file in seen:
                found.append((("wrong", index, "file"), f"{case.file} is declared twice"))
            seen.add(case.file)
            for position, name in enumerate(case.sometimes):
                if name in case.failed:
                    where = ("wrong", index, "sometimes", position)
                    found.append((where, f"{name} is in both failed and sometimes"))
            if not case.failed and (case.sometimes or case.verdict is Verdict.WRONG_ANSWER):
                found.append((("wrong", index, "failed"), _NOTHING_ALWAYS))
        return found


def expect_json_schema() -> dict[str, Any]:
    """The JSON Schema of `expect.yaml`, for editors (`grader schema --expect`)."""
    schema = SolutionSet.model_json_schema()
    schema["title"] = "Self-test expectations of a code item's solutions"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
