# expect: WRONG_ANSWER failing feature-shape, model-keeps-its-head
# mistake: Sequential of children[:-1] without flattening returns [B, 512, 1, 1]. (feature-values is expected to
# PASS: value comparison flattens nested lists, so [2,512,1,1] and [2,512] compare equal.)
import torch
from torch import nn


def embed(model, images):
    body = nn.Sequential(*list(model.children())[:-1])
    body.eval()
    with torch.no_grad():
        return body(images)
