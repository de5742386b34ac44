# expect: PASSED
# style: AdamW with weight_decay=0.1 (a common fine-tuning setting), groups built from
# named_parameters by prefix.
import torch
from torch import nn


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    for parameter in model.parameters():
        parameter.requires_grad = True
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    head = [p for name, p in model.named_parameters() if name.startswith("fc.")]
    return torch.optim.AdamW(
        [{"params": backbone, "lr": 1e-4}, {"params": head, "lr": 1e-3}], weight_decay=0.1
    )
