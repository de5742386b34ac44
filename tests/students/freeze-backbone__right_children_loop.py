# expect: PASSED
# style: freezes child by child, skipping the head, then swaps the head via setattr with the
# width read through get_submodule; explicitly re-enables the head's parameters.
import torch
from torch import nn


def freeze_module(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad = False


def prepare(model, num_classes):
    for name, child in model.named_children():
        if name != "fc":
            freeze_module(child)
    in_features = model.get_submodule("fc").in_features
    new_head = nn.Linear(in_features, num_classes)
    for p in new_head.parameters():
        p.requires_grad = True
    setattr(model, "fc", new_head)
    return model
