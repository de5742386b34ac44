# expect: RUNTIME_ERROR failing output-shape, is-mobilenetv2-3-classes, is-mobilenetv2-7-classes, keeps-dropout
# mistake: replaces classifier[0] (the Dropout) instead of classifier[1]: the new Linear(1280, n)
# feeds the old Linear(1280, 1000), so the forward pass raises a shape mismatch, and
# classifier[0] is no longer a Dropout.
from torch import nn
from torchvision import models


def build_model(num_classes):
    model = models.mobilenet_v2(weights=None)
    model.classifier[0] = nn.Linear(1280, num_classes)
    return model
