import torch
from torch import nn


def finetune(model, train_loader):
    # Keep the pre-trained features; a new 4-class head is the only part that trains.
    model.features.requires_grad_(False)
    model.fc = nn.Linear(model.fc.in_features, 4)
    optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(10):
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
    return model
