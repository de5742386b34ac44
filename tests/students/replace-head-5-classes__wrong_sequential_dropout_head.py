# expect: RUNTIME_ERROR failing head-shape, is-resnet18
# variant: seed 0 (classes = 12). mistake: fc becomes Sequential(Dropout, Linear) instead of a Linear, as the prompt
# requires; output is [2, 12] but state_dict has fc.1.weight (head-shape raises KeyError 'fc.weight', strict load fails).
from torch import nn
from torchvision import models


def build_model():
    model = models.resnet18(weights=None)
    model.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(model.fc.in_features, 12))
    return model
