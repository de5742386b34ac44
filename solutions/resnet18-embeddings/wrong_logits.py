import torch


def embed(model, images):
    model.eval()
    with torch.no_grad():
        return model(images)  # the 1000 class scores, not the 512 features before fc
