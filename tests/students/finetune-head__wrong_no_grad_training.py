# expect: RUNTIME_ERROR failing returns-model, four-class-output, heldout-accuracy
# mistake: wraps the training loop in torch.no_grad() "to save memory" because the backbone is
# frozen: nothing is recorded, so loss.backward() raises.
import torch
from torch import nn


def finetune(model, train_loader):
    model.features.requires_grad_(False)
    model.fc = nn.Linear(64, 4)
    optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    with torch.no_grad():
        for _ in range(10):
            for images, labels in train_loader:
                optimizer.zero_grad()
                loss = loss_fn(model(images), labels)
                loss.backward()
                optimizer.step()
    return model
