# expect: PASSED
# style: plain Python loop over .tolist(), counts in a dict, explicit if/else guards, extra print.


def binary_metrics(y_true, y_pred):
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        if p == 1 and t == 1:
            counts["tp"] += 1
        elif p == 1 and t == 0:
            counts["fp"] += 1
        elif p == 0 and t == 1:
            counts["fn"] += 1
        else:
            counts["tn"] += 1
    print("confusion:", counts)

    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    total = tp + fp + fn + tn

    if total > 0:
        accuracy = (tp + tn) / total
    else:
        accuracy = 0.0
    if tp + fp > 0:
        precision = tp / (tp + fp)
    else:
        precision = 0.0
    if tp + fn > 0:
        recall = tp / (tp + fn)
    else:
        recall = 0.0
    if precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = 0.0

    result = {}
    result["accuracy"] = float(accuracy)
    result["precision"] = float(precision)
    result["recall"] = float(recall)
    result["f1"] = float(f1)
    return result
