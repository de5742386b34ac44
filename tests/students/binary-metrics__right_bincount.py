# expect: PASSED
# style: vectorised confusion matrix with torch.bincount, type hints, F1 written as
# 2TP / (2TP + FP + FN) (the same value as the harmonic mean), values via .tolist() -> ints.
import torch


def _div(num: float, den: float) -> float:
    return 0.0 if den == 0 else num / den


def binary_metrics(y_true: torch.Tensor, y_pred: torch.Tensor) -> dict[str, float]:
    # index = 2 * truth + prediction: 0 = TN, 1 = FP, 2 = FN, 3 = TP
    cells = torch.bincount(y_true.long() * 2 + y_pred.long(), minlength=4)
    tn, fp, fn, tp = cells.tolist()
    metrics: dict[str, float] = {
        "accuracy": _div(tp + tn, tp + tn + fp + fn),
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "f1": _div(2 * tp, 2 * tp + fp + fn),
    }
    return {k: float(v) for k, v in metrics.items()}
