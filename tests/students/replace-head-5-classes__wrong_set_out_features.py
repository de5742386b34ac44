# expect: WRONG_ANSWER failing output-shape, head-shape, is-resnet18
# variant: seed 0 (classes = 12). mistake: changes the attribute out_features of the existing Linear; its weight
# stays [1000, 512], so the model still outputs 1000 scores.
from torchvision import models


def build_model():
    model = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    model.fc.out_features = 12
    return model
