"""Which model reads each item kind, named rather than imported, so that reading one item builds
only the models of its kind: `grader answer` on an mcq item never builds the code items' models
(tests/grader/test_cli_startup.py holds the line)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.models.items import ItemBase

#: Each kind, and the module and class of its model; `ITEM_KINDS` (grader/models/kinds.py) is
#: made from it.
KIND_MODELS = {
    "mcq": ("grader.models.items", "McqItem"),
    "numeric": ("grader.models.items", "NumericItem"),
    "code": ("grader.models.code", "CodeItem"),
    "predict": ("grader.models.code", "PredictItem"),
}


def item_model(kind: str) -> type[ItemBase]:
    """The model of `kind`, importing its module only; `KeyError` for a kind that is not one."""
    module, name = KIND_MODELS[kind]
    model: type[ItemBase] = getattr(importlib.import_module(module), name)
    return model
