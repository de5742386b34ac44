# expect: PASSED
# style: keeps the starter's pre-trained weights enum (loads from the offline cache) and
# addresses the last layer as classifier[-1].
import torch
from torch import nn
from torchvision import models


def build_model(num_classes):
    model = models.mobilenet_v2(weights=models.MobileNet_V2_Weights.IMAGENET1K_V1)
    old_linear = model.classifier[-1]
    model.classifier[-1] = nn.Linear(old_linear.in_features, num_classes)
    return model
