# expect: PASSED
# style: one-line freeze with model.requires_grad_(False), then a new head (created after the
# freeze, so it trains), with type hints.
from torch import nn


def prepare(model: nn.Module, num_classes: int) -> nn.Module:
    model.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
