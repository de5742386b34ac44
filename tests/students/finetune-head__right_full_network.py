# expect: PASSED
# style: trains the whole network (no freezing) with Adam lr=1e-3, as the item's explanation
# says also works; F.cross_entropy instead of a loss module; running-loss print per epoch.
# (Held-out accuracy not measured here: relies on the explanation's claim.)
import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 4
EPOCHS = 10


def finetune(model, train_loader):
    model.fc = nn.Linear(model.fc.in_features, NUM_CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(EPOCHS):
        running = 0.0
        for images, labels in train_loader:
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * images.size(0)
        print(f"epoch {epoch + 1}: loss {running / len(train_loader.dataset):.4f}")
    return model
