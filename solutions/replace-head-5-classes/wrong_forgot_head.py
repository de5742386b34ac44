from torchvision import models


def build_model():
    model = models.resnet18(weights=None)
    return model
