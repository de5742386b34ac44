# expect: PASSED
# style: freezes with a parameter loop, builds the head via get_submodule, optimizer over
# filter(requires_grad), keeps the frozen backbone in eval() mode (BatchNorm statistics fixed)
# while the head trains, 15 epochs, type hints.
import torch
from torch import nn
from torch.utils.data import DataLoader


def finetune(model: nn.Module, train_loader: DataLoader) -> nn.Module:
    for param in model.parameters():
        param.requires_grad = False

    old_head = model.get_submodule("fc")
    model.fc = nn.Linear(old_head.in_features, 4)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    criterion = nn.CrossEntropyLoss()

    for epoch in range(15):
        model.train()
        model.features.eval()  # frozen backbone: use and keep its pre-trained BN statistics
        correct = seen = 0
        for x, y in train_loader:
            optimizer.zero_grad()
            out = model(x)
            loss = criterion(out, y)
            loss.backward()
            optimizer.step()
            correct += (out.argmax(1) == y).sum().item()
            seen += y.numel()
        print(f"epoch {epoch}: train acc {correct / seen:.3f}")

    model.eval()
    return model
