# expect: WRONG_ANSWER failing only-head-trains
# mistake: `==` instead of `=`: the loop compares requires_grad with False and discards the
# result, so nothing is frozen and the whole network trains.
from torch import nn


def prepare(model, num_classes):
    for param in model.parameters():
        param.requires_grad == False  # noqa: B015
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
