# Non-finite numbers everywhere.
def binary_metrics(y_true, y_pred):
    return {
        "accuracy": float("inf"),
        "precision": float("nan"),
        "recall": -float("inf"),
        "f1": 1e308 * 10,
    }
