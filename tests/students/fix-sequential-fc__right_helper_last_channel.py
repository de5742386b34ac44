# expect: PASSED
# style: weights given as the string "IMAGENET1K_V1", a helper with type hints, width from
# model.last_channel (1280), and a debugging print of the classifier.
from torch import nn
from torchvision import models
from torchvision.models import MobileNetV2


def replace_head(model: MobileNetV2, num_classes: int) -> MobileNetV2:
    in_features = model.last_channel
    model.classifier[1] = nn.Linear(in_features=in_features, out_features=num_classes, bias=True)
    return model


def build_model(num_classes: int) -> nn.Module:
    model = models.mobilenet_v2(weights="IMAGENET1K_V1")
    model = replace_head(model, num_classes)
    print(model.classifier)
    return model
