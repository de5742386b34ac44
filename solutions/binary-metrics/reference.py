def _ratio(numerator, denominator):
    return numerator / denominator if denominator else 0.0


def binary_metrics(y_true, y_pred):
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    fp = int(((y_pred == 1) & (y_true == 0)).sum())
    fn = int(((y_pred == 0) & (y_true == 1)).sum())
    tn = int(((y_pred == 0) & (y_true == 0)).sum())
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": float(_ratio(tp + tn, tp + tn + fp + fn)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(_ratio(2 * precision * recall, precision + recall)),
    }
