# expect: WRONG_ANSWER failing model-keeps-its-head
# mistake: copy.copy (shallow) shares the _modules dict, so replacing fc on the "copy" also replaces the caller's fc.
import copy

import torch
from torch import nn


def embed(model, images):
    backbone = copy.copy(model)
    backbone.fc = nn.Identity()
    backbone.eval()
    with torch.no_grad():
        return backbone(images)
