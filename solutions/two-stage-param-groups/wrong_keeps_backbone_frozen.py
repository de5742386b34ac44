import torch


def make_optimizer(model):
    # Right groups, but the backbone stays frozen, so its learning rate is never used.
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    return torch.optim.Adam(
        [
            {"params": backbone, "lr": 1e-4},
            {"params": model.fc.parameters(), "lr": 1e-3},
        ]
    )
