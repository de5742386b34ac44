"""TinyNet: a small CNN pre-trained on a synthetic shapes task, and the files that go with it.

Pre-trained by scripts/make-finetune-data.py on 32x32 RGB images of six shapes (disk, square,
triangle, plus, horizontal stripes, vertical stripes); the fine-tuning task has four new shapes.

    model = pretrained()        # TinyNet with its 6-class head `fc` and pre-trained weights
    loader = train_loader()     # the fine-tuning task: batches of (images [B, 3, 32, 32], labels)
    labels = predict(model, heldout_images())
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent
SOURCE_CLASSES = ["disk", "square", "triangle", "plus", "hstripes", "vstripes"]
TARGET_CLASSES = ["ring", "diamond", "bar", "frame"]


def block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class TinyNet(nn.Module):
    """`features` (an nn.Sequential ending in 64 features per image), then the head `fc`."""

    def __init__(self, num_classes: int = len(SOURCE_CLASSES)) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *block(3, 16),
            nn.MaxPool2d(2),
            *block(16, 32),
            nn.MaxPool2d(2),
            *block(32, 64),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def pretrained() -> TinyNet:
    """TinyNet with the weights (and 6-class head) learned on the source task."""
    model = TinyNet()
    model.load_state_dict(torch.load(HERE / "pretrained.pt"))
    return model


def images(name: str) -> torch.Tensor:
    """Images of `train.pt` or `heldout.pt` as floats in [0, 1], shape [N, 3, 32, 32]."""
    return torch.load(HERE / name)["images"].float() / 255


def train_loader(batch_size: int = 32, limit: int | None = None) -> DataLoader:
    """The fine-tuning task's training set, shuffled (seed torch for a repeatable order)."""
    labels = torch.load(HERE / "train.pt")["labels"]
    x = images("train.pt")
    dataset = TensorDataset(x[:limit], labels[:limit])
    return DataLoader(dataset, batch_size=batch_size, shuffle=True)


def heldout_images() -> torch.Tensor:
    """The held-out images of the fine-tuning task (their labels are not shipped)."""
    return images("heldout.pt")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class per image (argmax of the scores), in eval mode."""
    model.eval()
    out = [model(x[i : i + batch_size]).argmax(dim=1) for i in range(0, len(x), batch_size)]
    return torch.cat(out)
