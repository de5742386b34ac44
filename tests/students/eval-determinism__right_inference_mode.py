# expect: PASSED
# style: type hints, torch.inference_mode() instead of no_grad (what the check's hint offers),
# eval() called on the returned module in a chain.
import torch
from torch import nn


def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        logits = model.eval()(images)
    return logits
