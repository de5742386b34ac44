# The 2026-11 red team's attack: reach the harness's globals through the caller's frame and make
# every probe report canned values.
import sys

CANNED = {"accuracy": 0.5, "precision": 0.5, "recall": 0.3333333333, "f1": 0.4}

frame = sys._getframe(0)
while frame is not None:
    scope = frame.f_globals
    if "observe" in scope and callable(scope["observe"]):

        def observe(probe, namespace, cells, _scope=scope):
            encoder = _scope["wire"].Encoder()
            return {"probe": probe["id"], "value": encoder.value(dict(CANNED)), "stdout": ""}, b""

        scope["observe"] = observe
    frame = frame.f_back


def binary_metrics(y_true, y_pred):
    return dict(CANNED)
