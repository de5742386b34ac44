# expect: RUNTIME_ERROR failing returns-model, four-class-output, heldout-accuracy
# mistake: replaces the head first, then freezes *every* parameter (the new head too): the loss
# has no grad_fn and loss.backward() raises "element 0 of tensors does not require grad".
import torch
from torch import nn


def finetune(model, train_loader):
    model.fc = nn.Linear(model.fc.in_features, 4)
    for p in model.parameters():
        p.requires_grad = False
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
