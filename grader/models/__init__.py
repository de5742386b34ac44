"""pydantic models: the bank's items and the reports the grader writes."""

from grader.models.items import (
    ITEM_KINDS,
    SCHEMA_VERSION,
    Choice,
    Difficulty,
    Item,
    ItemBase,
    McqItem,
    NumericItem,
    Problem,
    Source,
    Tolerance,
    item_json_schema,
)
from grader.models.report import CheckResult, Report, Status, Verdict

__all__ = [
    "ITEM_KINDS",
    "SCHEMA_VERSION",
    "CheckResult",
    "Choice",
    "Difficulty",
    "Item",
    "ItemBase",
    "McqItem",
    "NumericItem",
    "Problem",
    "Report",
    "Source",
    "Status",
    "Tolerance",
    "Verdict",
    "item_json_schema",
]
