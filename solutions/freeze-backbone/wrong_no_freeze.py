import torch
from torch import nn
from torchvision import models


def prepare(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
