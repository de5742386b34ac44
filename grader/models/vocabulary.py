"""The closed vocabularies of item files, each kept in one place, with "did you mean" for typos.

A word outside them used to pass validation and surface later as "the reference failed":
`from: referance` was compared as a literal dict, `{$modle: resnet18}` reached the student's
function as a dict, an unknown model name failed inside the sandbox. Now each is a problem at
its line.

- `SOURCES`: where an expected value may come from (`{from: reference}`).
- `TAGS`: the input tags the harness decodes, read from its own decoder
  (`grader/probe/harness/inputs.py`), so what validates is what the sandbox builds.
- `MODELS`: what `{$model: NAME}` and `conforms: {arch: NAME}` can build: the classification
  builders of the pinned torchvision (`sandbox/container/dockerfiles/runtime.txt`), i.e.
  `torchvision.models.list_models(module=torchvision.models)`; a test compares the two.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from grader.probe.harness.inputs import MAKERS

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

SOURCES = ("reference",)
TAGS = ("$expr", *MAKERS)
MODELS = frozenset(
    """
    alexnet convnext_base convnext_large convnext_small convnext_tiny densenet121 densenet161
    densenet169 densenet201 efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3
    efficientnet_b4 efficientnet_b5 efficientnet_b6 efficientnet_b7 efficientnet_v2_l
    efficientnet_v2_m efficientnet_v2_s googlenet inception_v3 maxvit_t mnasnet0_5 mnasnet0_75
    mnasnet1_0 mnasnet1_3 mobilenet_v2 mobilenet_v3_large mobilenet_v3_small regnet_x_16gf
    regnet_x_1_6gf regnet_x_32gf regnet_x_3_2gf regnet_x_400mf regnet_x_800mf regnet_x_8gf
    regnet_y_128gf regnet_y_16gf regnet_y_1_6gf regnet_y_32gf regnet_y_3_2gf regnet_y_400mf
    regnet_y_800mf regnet_y_8gf resnet101 resnet152 resnet18 resnet34 resnet50 resnext101_32x8d
    resnext101_64x4d resnext50_32x4d shufflenet_v2_x0_5 shufflenet_v2_x1_0 shufflenet_v2_x1_5
    shufflenet_v2_x2_0 squeezenet1_0 squeezenet1_1 swin_b swin_s swin_t swin_v2_b swin_v2_s
    swin_v2_t vgg11 vgg11_bn vgg13 vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn vit_b_16 vit_b_32
    vit_h_14 vit_l_16 vit_l_32 wide_resnet101_2 wide_resnet50_2
    """.split()
)


def unknown(what: str, word: object, known: Iterable[str]) -> str:
    """`unknown WHAT 'word'; did you mean 'x'?` (or the list of known words when none is close)."""
    choices = sorted(known)
    close = difflib.get_close_matches(str(word), choices, n=1) if isinstance(word, str) else []
    if close:
        return f"unknown {what} {word!r}; did you mean {close[0]!r}?"
    shown = ", ".join(choices) if len(choices) <= 8 else f"{len(choices)} known, e.g. {choices[0]}"
    return f"unknown {what} {word!r}; use one of: {shown}"


def source_of(value: Any) -> str | None:
    """The `from:` word of a value that names its source (`{from: WORD}`), else None."""
    if isinstance(value, dict) and set(value) == {"from"} and isinstance(value["from"], str):
        return value["from"]
    return None


def model_problem(name: str) -> str | None:
    """Why a model name cannot be built, or None."""
    return None if name in MODELS else unknown("torchvision model", name, MODELS)


def input_problems(value: Any, loc: Loc) -> list[Problem]:
    """Unknown `$tags` and model names anywhere in a call's inputs."""
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in input_problems(v, (*loc, i))]
    if not isinstance(value, dict):
        return []
    found: list[Problem] = []
    for key, item in value.items():
        where = (*loc, key)
        if isinstance(key, str) and key.startswith("$") and key not in TAGS:
            found.append((where, unknown("input tag", key, TAGS)))
        elif key == "$model":
            problem = model_problem(item) if isinstance(item, str) else "name a torchvision model"
            found += [(where, problem)] if problem else []
        else:
            found += input_problems(item, where)
    return found


def value_problems(value: Any, loc: Loc, top: bool = True) -> list[Problem]:
    """An expected value's problems: an unknown or nested `from:` source, a number that is
    infinite or NaN (never equal to anything a submission shows)."""
    source = source_of(value)
    if source is not None:
        if not top:
            return [(loc, "`from:` stands for the whole expected value; it cannot be nested")]
        return [] if source in SOURCES else [((*loc, "from"), unknown("source", source, SOURCES))]
    if isinstance(value, float) and not math.isfinite(value):
        return [(loc, f"the expected value {value} is not a finite number; write a finite one")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in value_problems(v, (*loc, i), False)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in value_problems(v, (*loc, k), False)]
    return []
