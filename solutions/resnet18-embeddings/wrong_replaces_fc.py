import torch
from torch import nn


def embed(model, images):
    model.fc = nn.Identity()  # the caller's model loses its 1000-class head
    model.eval()
    with torch.no_grad():
        return model(images)
