# expect: PASSED
# variant: seed 0 (classes = 12); grade with `--seed 0`. style: torchvision.models.get_model, in_features read
# from the old weight's shape, head assigned with setattr through a helper.
import torch
import torchvision


def _new_head(old: torch.nn.Linear, n_classes: int) -> torch.nn.Linear:
    return torch.nn.Linear(old.weight.shape[1], n_classes, bias=True)


def build_model():
    model = torchvision.models.get_model("resnet18", weights=None)
    setattr(model, "fc", _new_head(model.fc, 12))
    return model
