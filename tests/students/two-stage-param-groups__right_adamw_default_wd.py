# expect: PASSED
# style: AdamW (the prompt allows it) with its default weight_decay=0.01, which moves a weight
# of 1.0 by lr * (1 +/- 0.01) on the first step; requires_grad_(), an id-based split.
import torch


def make_optimizer(model):
    model.requires_grad_(True)
    head = list(model.fc.parameters())
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.AdamW([{"params": backbone, "lr": 1e-4}, {"params": head, "lr": 1e-3}])
