# expect: WRONG_ANSWER failing is-mobilenetv2-3-classes, is-mobilenetv2-7-classes
# mistake: stacks a new layer on top of the old 1000-way Linear instead of replacing it: the
# output is [2, num_classes] and the dropout is kept, but classifier[1] is still Linear(1280, 1000)
# and an extra classifier.2 exists, so the weights do not load into MobileNetV2 with a new head.
from torch import nn
from torchvision import models


def build_model(num_classes):
    model = models.mobilenet_v2(weights=None)
    model.classifier.append(nn.Linear(model.classifier[1].out_features, num_classes))
    return model
