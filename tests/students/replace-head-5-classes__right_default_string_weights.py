# expect: PASSED
# variant: seed 0 (classes = 12); grade with `--seed 0`. style: weights="DEFAULT" string, module-level constant,
# type hints, a debug print of the new head.
import torchvision
from torch import nn

NUM_CLASSES = 12


def build_model() -> nn.Module:
    model = torchvision.models.resnet18(weights="DEFAULT")
    num_features = model.fc.in_features
    model.fc = nn.Linear(num_features, NUM_CLASSES)
    print("new head:", model.fc)
    return model
