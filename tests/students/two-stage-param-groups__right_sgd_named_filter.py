# expect: PASSED
# style: loop to unfreeze, named_parameters filtered on the "fc." prefix, SGD with momentum and weight_decay=5e-4
# (first step still moves each parameter by lr; decay shifts the rate by <0.1%).
import torch


def make_optimizer(model):
    for p in model.parameters():
        p.requires_grad = True

    head_params, backbone_params = [], []
    for name, p in model.named_parameters():
        if name.startswith("fc."):
            head_params.append(p)
        else:
            backbone_params.append(p)

    return torch.optim.SGD(
        [
            {"params": backbone_params, "lr": 1e-4},
            {"params": head_params, "lr": 1e-3},
        ],
        momentum=0.9,
        weight_decay=5e-4,
    )
