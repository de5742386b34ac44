# expect: PASSED
# style: a forward pre-hook on model.fc captures its input during a normal forward pass; hook removed and mode
# restored afterwards. Type hints.
import torch
from torch import nn


def embed(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    captured: dict[str, torch.Tensor] = {}

    def grab(module, inputs):
        captured["features"] = inputs[0]

    handle = model.fc.register_forward_pre_hook(grab)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(images)  # the 1000 scores are discarded
    finally:
        handle.remove()
        model.train(was_training)
    return captured["features"]
