"""pydantic models: the bank's items and the reports the grader writes."""

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
from grader.models.kinds import ITEM_KINDS, SANDBOXED, Item, item_json_schema
from grader.models.report import CheckResult, Override, Report, Status, Verdict

__all__ = [
    "ITEM_KINDS",
    "SANDBOXED",
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
    "Citation",
    "Status",
    "Tolerance",
    "Verdict",
    "item_json_schema",
]
