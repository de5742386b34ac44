# expect: RUNTIME_ERROR failing all-zero-predictions, no-positives-at-all
# mistake: guards precision and recall but not F1: precision + recall = 0 whenever TP = 0, so
# 0.0 / 0.0 raises ZeroDivisionError (random-vectors only hits TP = 0 with probability ~(3/4)^64).


def binary_metrics(y_true, y_pred):
    tp = ((y_true == 1) & (y_pred == 1)).sum().item()
    fp = ((y_true == 0) & (y_pred == 1)).sum().item()
    fn = ((y_true == 1) & (y_pred == 0)).sum().item()
    tn = ((y_true == 0) & (y_pred == 0)).sum().item()
    precision = tp / (tp + fp) if (tp + fp) > 0 else 0.0
    recall = tp / (tp + fn) if (tp + fn) > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall)
    return {
        "accuracy": (tp + tn) / len(y_true),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
