"""Small valid item files for tests, as YAML text, so each test can break exactly one thing."""

from __future__ import annotations

from pathlib import Path

MCQ = """\
schema_version: 1
id: {id}
kind: mcq
title: Which layer does ResNet18 end with?
prompt: |
  Which attribute holds the last layer of a torchvision ResNet18?
difficulty: easy
points: 2
tags: [resnet, heads]
choices:
  - text: model.classifier
    feedback: That is MobileNetV2's head.
  - text: model.fc
    feedback: Right, ResNets end with `fc`.
  - text: model.head
    feedback: That is a vision transformer's head.
answer: B
explanation: |
  torchvision ResNets name their last layer `fc`.
"""

NUMERIC = """\
schema_version: 1
id: {id}
kind: numeric
title: Precision
prompt: TP = 85, FP = 15. Precision, to 3 decimals?
difficulty: medium
answer: 0.85
tolerance:
  absolute: 0.0005
explanation: 85 / (85 + 15) = 0.85.
"""


#: The head of a small code item, `mean_of(values)`: a test adds its contract, limits and checks
#: (format it with the id).
MEAN_OF_HEAD = """\
schema_version: 1
id: {id}
kind: code
title: Mean
prompt: Define mean_of(values).
difficulty: easy
explanation: Sum divided by count.
starter: "def mean_of(values): ..."
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def mcq(folder: Path, item_id: str = "resnet-head", **replace: str) -> Path:
    text = MCQ.format(id=item_id)
    for old, new in replace.items():
        text = text.replace(old, new)
    return write(folder, item_id, text)


def numeric(folder: Path, item_id: str = "precision-85") -> Path:
    return write(folder, item_id, NUMERIC.format(id=item_id))


def small_bank(tmp_path: Path) -> Path:
    """A bank folder of one mcq and one numeric item: what the CLI tests list, show and answer."""
    folder = tmp_path / "bank"
    folder.mkdir()
    mcq(folder)
    numeric(folder)
    return folder
