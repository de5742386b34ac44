import torch


def make_optimizer(model):
    for param in model.parameters():
        param.requires_grad = True
    return torch.optim.Adam(model.parameters(), lr=1e-4)
