from torch import nn
from torchvision import models


def build_model(num_classes):
    model = models.mobilenet_v2(weights=None)
    in_features = model.classifier.fc.in_features
    model.classifier.fc = nn.Linear(in_features, num_classes)
    return model
