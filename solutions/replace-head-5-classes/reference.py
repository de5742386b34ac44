from torch import nn
from torchvision import models


def build_model():
    # weights=None keeps the self-test independent of the weights cache; the architecture is the
    # same with models.ResNet18_Weights.IMAGENET1K_V1.
    model = models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, {{ classes }})
    return model
