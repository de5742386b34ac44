"""pydantic models: the bank's items and the reports the grader writes.

Each name is imported from its module when first asked for (PEP 562 `__getattr__`), so importing
the package builds no model: `grader answer` on an mcq item builds the mcq and report models only,
never the code items' (a pydantic model costs milliseconds to build, and the command has about
0.3 s). `from grader.models import X` reads as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.models.code import Check, CodeItem, Expect, PredictItem
    from grader.models.items import (
        SCHEMA_VERSION,
        Choice,
        Citation,
        Difficulty,
        ItemBase,
        McqItem,
        NumericItem,
        Problem,
        Tolerance,
        Verify,
    )
    from grader.models.kinds import ITEM_KINDS, Item, item_json_schema
    from grader.models.registry import item_model
    from grader.models.report import (
        CheckResult,
        Override,
        Report,
        ReportVariant,
        Status,
        Verdict,
    )

#: The module of each name this package exports.
HOMES = {
    **dict.fromkeys(["Check", "CodeItem", "Expect", "PredictItem"], "code"),
    **dict.fromkeys(
        [
            "SCHEMA_VERSION",
            "Choice",
            "Citation",
            "Difficulty",
            "ItemBase",
            "McqItem",
            "NumericItem",
            "Problem",
            "Tolerance",
            "Verify",
        ],
        "items",
    ),
    **dict.fromkeys(["ITEM_KINDS", "Item", "item_json_schema"], "kinds"),
    "item_model": "registry",
    **dict.fromkeys(
        ["CheckResult", "Override", "Report", "ReportVariant", "Status", "Verdict"], "report"
    ),
}

__all__ = [
    "ITEM_KINDS",
    "Check",
    "CodeItem",
    "Expect",
    "PredictItem",
    "Verify",
    "SCHEMA_VERSION",
    "CheckResult",
    "Choice",
    "Difficulty",
    "Item",
    "ItemBase",
    "McqItem",
    "NumericItem",
    "Problem",
    "Override",
    "Report",
    "ReportVariant",
    "Citation",
    "Status",
    "Tolerance",
    "Verdict",
    "item_json_schema",
    "item_model",
]


def __getattr__(name: str) -> Any:
    """Import a name's module on first use, and keep the name here for the next."""
    if name not in HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{HOMES[name]}"), name)
    globals()[name] = value
    return value
