# expect: WRONG_ANSWER failing small-batch, single-image, imagenet-sized
# mistake: sigmoid of the top logit instead of the softmax over classes (e.g. cat gets 0.881, not 0.659).
import torch


def top1(logits, labels):
    probs = torch.sigmoid(logits)
    confidences, indices = probs.max(dim=1)
    return [(labels[i], c) for i, c in zip(indices.tolist(), confidences.tolist())]
