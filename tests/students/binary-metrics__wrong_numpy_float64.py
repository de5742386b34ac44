# expect: WRONG_ANSWER failing returns-floats
# mistake: numpy arithmetic without float(): the values are right but np.float64, not the
# Python floats the contract asks for (a value check reads the number; the type check fails).
import numpy as np


def binary_metrics(y_true, y_pred):
    yt, yp = y_true.numpy(), y_pred.numpy()
    tp = np.sum((yt == 1) & (yp == 1))
    fp = np.sum((yt == 0) & (yp == 1))
    fn = np.sum((yt == 1) & (yp == 0))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "accuracy": np.mean(yt == yp),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
