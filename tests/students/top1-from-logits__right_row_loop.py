# expect: PASSED
# style: loop over rows, F.softmax on each 1-D row (dim=0 is the class dim there), torch.max, .item(); type hints.
import torch
import torch.nn.functional as F


def top1(logits: torch.Tensor, labels: list[str]) -> list[tuple[str, float]]:
    results = []
    for i in range(logits.shape[0]):
        probs = F.softmax(logits[i], dim=0)
        conf, idx = torch.max(probs, dim=0)
        results.append((labels[idx.item()], conf.item()))
    return results
