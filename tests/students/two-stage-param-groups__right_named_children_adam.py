# expect: PASSED
# style: backbone collected from named_children() other than "fc", Adam, type hints, prints group sizes.
import torch
from torch import nn


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    model.requires_grad_(True)
    backbone = [
        p for name, child in model.named_children() if name != "fc" for p in child.parameters()
    ]
    head = list(model.fc.parameters())
    print(f"backbone tensors: {len(backbone)}, head tensors: {len(head)}")
    return torch.optim.Adam(
        [
            {"params": backbone, "lr": 1e-4},
            {"params": head, "lr": 1e-3},
        ]
    )
