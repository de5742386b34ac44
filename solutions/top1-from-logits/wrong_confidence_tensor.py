import torch


def top1(logits, labels):
    probs = torch.softmax(logits, dim=1)
    pairs = []
    for row in probs:
        confidence, index = torch.max(row, 0)
        pairs.append((labels[index], confidence))  # confidence stays a 0-d tensor
    return pairs
