# expect: PASSED
# style: converts to numpy, counts with np.count_nonzero, casts every value with float() so no
# numpy scalar (np.float64) leaks into the result.
import numpy as np


def safe_div(a, b):
    return float(a) / float(b) if b != 0 else 0.0


def binary_metrics(y_true, y_pred):
    yt = y_true.cpu().numpy().astype(np.int64)
    yp = y_pred.cpu().numpy().astype(np.int64)
    tp = int(np.count_nonzero((yt == 1) & (yp == 1)))
    fp = int(np.count_nonzero((yt == 0) & (yp == 1)))
    fn = int(np.count_nonzero((yt == 1) & (yp == 0)))
    tn = int(np.count_nonzero((yt == 0) & (yp == 0)))
    precision = safe_div(tp, tp + fp)
    recall = safe_div(tp, tp + fn)
    return dict(
        accuracy=safe_div(tp + tn, yt.size),
        precision=precision,
        recall=recall,
        f1=safe_div(2 * precision * recall, precision + recall),
    )
