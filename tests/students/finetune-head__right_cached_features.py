# expect: PASSED
# style: "linear probe": runs the frozen backbone once (eval, no_grad) to cache the 64-d
# features, trains a fresh nn.Linear on the cached tensors with its own shuffling, then
# installs it as model.fc.
import torch
import torch.nn.functional as F
from torch import nn


def extract_features(backbone, loader):
    backbone.eval()
    feats, targets = [], []
    with torch.no_grad():
        for images, labels in loader:
            feats.append(backbone(images))
            targets.append(labels)
    return torch.cat(feats), torch.cat(targets)


def finetune(model, train_loader):
    model.requires_grad_(False)
    X, y = extract_features(model.features, train_loader)

    head = nn.Linear(X.shape[1], 4)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    batch = 32
    for _ in range(30):
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(head(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    model.fc = head
    return model
