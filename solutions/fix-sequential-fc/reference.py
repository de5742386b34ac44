from torch import nn
from torchvision import models


def build_model(num_classes):
    # weights=None keeps the self-test independent of the weights cache; the architecture is the
    # same with models.MobileNet_V2_Weights.IMAGENET1K_V1.
    model = models.mobilenet_v2(weights=None)
    model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    return model
