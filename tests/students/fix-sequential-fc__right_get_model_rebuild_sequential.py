# expect: PASSED
# style: torchvision.models.get_model with weights="DEFAULT" (IMAGENET1K_V2), reads the width
# with get_submodule, and rebuilds the classifier Sequential around the *existing* Dropout
# module, so the keys stay classifier.0 / classifier.1.
import torchvision
from torch import nn


def build_model(num_classes):
    model = torchvision.models.get_model("mobilenet_v2", weights="DEFAULT")
    dropout = model.get_submodule("classifier.0")
    in_features = model.get_submodule("classifier.1").in_features
    model.classifier = nn.Sequential(dropout, nn.Linear(in_features, num_classes))
    return model
