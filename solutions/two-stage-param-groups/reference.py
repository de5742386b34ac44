import torch


def make_optimizer(model):
    model.requires_grad_(True)
    head = list(model.fc.parameters())
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam(
        [
            {"params": backbone, "lr": 1e-4},
            {"params": head, "lr": 1e-3},
        ]
    )
