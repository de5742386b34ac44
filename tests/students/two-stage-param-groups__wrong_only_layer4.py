# expect: WRONG_ANSWER failing group-sizes-and-rates, steps-at-two-rates
# mistake: unfreezes everything but puts only layer4 (15 tensors) in the backbone group, so the other 45 backbone
# tensors are in no group and never move.
import torch


def make_optimizer(model):
    for p in model.parameters():
        p.requires_grad = True
    return torch.optim.Adam(
        [
            {"params": model.layer4.parameters(), "lr": 1e-4},
            {"params": model.fc.parameters(), "lr": 1e-3},
        ]
    )
