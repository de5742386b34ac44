# expect: PASSED
# style: SGD with momentum 0.9 and weight_decay=5e-3, the head's group first.
import torch


def make_optimizer(model):
    model.requires_grad_(True)
    head = list(model.fc.parameters())
    rest = [p for p in model.parameters() if all(p is not h for h in head)]
    return torch.optim.SGD(
        [{"params": head, "lr": 1e-3}, {"params": rest, "lr": 1e-4}],
        momentum=0.9,
        weight_decay=5e-3,
    )
