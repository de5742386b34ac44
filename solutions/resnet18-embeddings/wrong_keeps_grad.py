import copy

from torch import nn


def embed(model, images):
    backbone = copy.deepcopy(model)
    backbone.fc = nn.Identity()
    backbone.eval()
    return backbone(images)  # no torch.no_grad(): the features carry an autograd graph
