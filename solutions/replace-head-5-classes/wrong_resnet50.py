from torch import nn
from torchvision import models


def build_model():
    model = models.resnet50(weights=None)
    model.fc = nn.Linear(model.fc.in_features, {{ classes }})
    return model
