# expect: RUNTIME_ERROR failing is-resnet18-5-classes, output-shape-3-classes
# mistake: nn.Linear(num_classes, in_features) (arguments swapped): the trainable names are
# right (fc.weight, fc.bias), but the forward pass raises a shape mismatch.
from torch import nn


def prepare(model, num_classes):
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(num_classes, model.fc.in_features)
    return model
