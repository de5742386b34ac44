# expect: PASSED
# style: the optimizer's default lr (1e-4) serves the backbone group, only the head group overrides it; backbone
# via filter() on a set of head ids.
import torch


def make_optimizer(model):
    for param in model.parameters():
        param.requires_grad_(True)
    head_ids = set(map(id, model.fc.parameters()))
    backbone = filter(lambda p: id(p) not in head_ids, model.parameters())
    return torch.optim.SGD(
        [{"params": backbone}, {"params": model.fc.parameters(), "lr": 1e-3}],
        lr=1e-4,
        momentum=0.9,
    )
