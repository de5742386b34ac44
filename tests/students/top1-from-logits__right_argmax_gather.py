# expect: PASSED
# style: argmax on the logits (softmax is monotonic), confidence gathered from the softmax; negative dim; prints.
import torch


def top1(logits, labels):
    probs = logits.softmax(dim=-1)
    idx = logits.argmax(dim=-1)
    conf = probs.gather(1, idx.unsqueeze(1)).squeeze(1)
    pairs = []
    for k, c in zip(idx.tolist(), conf.tolist()):
        print(f"{labels[k]}: {c:.3f}")
        pairs.append((labels[k], c))
    return pairs
