import copy

import torch
from torch import nn


def embed(model, images):
    backbone = copy.deepcopy(model)  # the caller's model keeps its fc
    backbone.fc = nn.Identity()
    backbone.eval()
    with torch.no_grad():
        return backbone(images)
