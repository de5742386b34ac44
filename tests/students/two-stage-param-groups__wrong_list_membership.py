# expect: RUNTIME_ERROR failing returns-optimizer, unfreezes-everything, group-sizes-and-rates, head-group-is-fc, steps-at-two-rates
# mistake: `p not in head` on a LIST compares tensors with ==, which broadcasts conv1.weight against fc.weight and
# raises RuntimeError (a set of ids, or id() comparison, is needed).
import torch


def make_optimizer(model):
    model.requires_grad_(True)
    head = list(model.fc.parameters())
    backbone = [p for p in model.parameters() if p not in head]
    return torch.optim.Adam([{"params": backbone, "lr": 1e-4}, {"params": head, "lr": 1e-3}])
