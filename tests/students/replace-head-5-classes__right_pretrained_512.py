# expect: PASSED
# variant: seed 0 (classes = 12); grade with `--seed 0`. style: pretrained weights enum, hard-coded 512 in_features.
import torch
from torch import nn
from torchvision import models


def build_model():
    model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    # Replace the last layer so that the model outputs 12 class scores.
    model.fc = nn.Linear(512, 12)
    return model
