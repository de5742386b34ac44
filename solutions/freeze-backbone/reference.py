from torch import nn


def prepare(model, num_classes):
    for param in model.parameters():
        param.requires_grad = False
    # Created after freezing, so its weight and bias keep requires_grad=True.
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
