"""Every item kind in one union, and the JSON Schema of an item file."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from grader.models.code import CodeItem, PredictItem
from grader.models.items import SCHEMA_VERSION, ItemBase, McqItem, NumericItem
from grader.models.registry import KIND_MODELS, item_model

Item = McqItem | NumericItem | CodeItem | PredictItem
ITEM_KINDS: dict[str, type[ItemBase]] = {kind: item_model(kind) for kind in KIND_MODELS}


def item_json_schema() -> dict[str, Any]:
    """JSON Schema of an item file, for authors' editors (`yaml-language-server`)."""
    adapter: TypeAdapter[Item] = TypeAdapter(Annotated[Item, Field(discriminator="kind")])
    schema = adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Question bank item"
    schema["description"] = f"One item of the question bank, schema_version {SCHEMA_VERSION}."
    return schema
