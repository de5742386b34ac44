def top1(logits, labels):
    # The largest logit is a score, not a probability.
    confidences, indices = logits.max(dim=1)
    return [(labels[i], c) for i, c in zip(indices.tolist(), confidences.tolist(), strict=True)]
