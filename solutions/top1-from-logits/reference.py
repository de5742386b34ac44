import torch


def top1(logits, labels):
    probs = torch.softmax(logits, dim=1)
    confidences, indices = probs.max(dim=1)
    return [(labels[i], c) for i, c in zip(indices.tolist(), confidences.tolist(), strict=True)]
