# The right weights (a real ResNet18 with a 5-class head), but a forward that skips layer3 and
# layer4, feeding zeros of the right width to the head.
import torch
from torch import nn
from torchvision import models


class Shortcut(models.ResNet):
    def forward(self, x):
        x = self.layer2(self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.zeros(x.shape[0], 512))


def build_model():
    model = models.resnet18(weights=None)
    model.fc = nn.Linear(512, 5)
    model.__class__ = Shortcut
    return model
