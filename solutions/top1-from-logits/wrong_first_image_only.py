import torch


def top1(logits, labels):
    # Copied from single-image code: only the first image of the batch is used.
    probabilities = torch.nn.functional.softmax(logits[0], dim=0)
    confidence, predicted_idx = torch.max(probabilities, 0)
    return [(labels[predicted_idx], confidence.item())]
