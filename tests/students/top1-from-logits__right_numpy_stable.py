# expect: PASSED
# style: numpy, numerically stable softmax written out (subtract the row max), float()/int() conversions.
import numpy as np


def top1(logits, labels):
    x = logits.detach().cpu().numpy().astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    probs = e / e.sum(axis=1, keepdims=True)
    out = []
    for row in probs:
        j = int(np.argmax(row))
        out.append((str(labels[j]), float(row[j])))
    return out
