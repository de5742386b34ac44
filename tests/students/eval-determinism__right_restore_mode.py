# expect: PASSED
# style: careful student: remembers the mode and restores it afterwards, uses
# torch.set_grad_enabled(False) as the context manager, and a try/finally.
import torch


def predict(model, images):
    was_training = model.training
    model.eval()
    try:
        with torch.set_grad_enabled(False):
            preds = model(images)
    finally:
        model.train(was_training)
    return preds
