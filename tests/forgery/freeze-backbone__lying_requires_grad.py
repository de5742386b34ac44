# Nothing is frozen, but named_parameters() and parameters() report only the head as trainable.
import torch
from torch import nn


def prepare(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    real = model.named_parameters

    class Fake(torch.nn.Parameter):
        pass

    def named_parameters(*args, **kwargs):
        for name, p in real(*args, **kwargs):
            if not name.startswith("fc."):
                p = Fake(p.detach(), requires_grad=False)
            yield name, p

    model.named_parameters = named_parameters
    model.parameters = lambda *a, **k: (p for _, p in named_parameters())
    return model
