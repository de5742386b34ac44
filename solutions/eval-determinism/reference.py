import torch


def predict(model, images):
    model.eval()
    with torch.no_grad():
        return model(images)
