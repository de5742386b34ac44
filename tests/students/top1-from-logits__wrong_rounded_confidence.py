# expect: WRONG_ANSWER failing single-image, small-batch; sometimes imagenet-sized
# mistake: rounds the confidence to 3 decimals to match the prompt's "about 0.659" (dog: 0.802 vs 0.80248).
import torch


def top1(logits, labels):
    probs = torch.softmax(logits, dim=1)
    confidences, indices = probs.max(dim=1)
    return [(labels[i], round(c, 3)) for i, c in zip(indices.tolist(), confidences.tolist())]
