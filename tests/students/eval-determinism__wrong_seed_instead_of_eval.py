# expect: RUNTIME_ERROR failing same-output-twice, matches-eval-resnet18, single-image-batch, running-stats-unchanged
# mistake: makes dropout "deterministic" by re-seeding instead of calling model.eval(): two calls
# now agree with each other, but batch norm stays in training mode (batch statistics, running
# stats updated, a batch of one raises ValueError) and dropout is still on.
import torch


def predict(model, images):
    torch.manual_seed(0)
    with torch.no_grad():
        return model(images)
