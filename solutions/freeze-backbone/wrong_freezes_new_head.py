from torch import nn


def prepare(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    # Freezing after the replacement freezes the new head as well.
    for param in model.parameters():
        param.requires_grad = False
    return model
