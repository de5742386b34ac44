import torch


def make_optimizer(model):
    model.requires_grad_(True)
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    return torch.optim.AdamW(
        [
            {"params": backbone, "lr": 1e-3},
            {"params": model.fc.parameters(), "lr": 1e-4},
        ]
    )
