# expect: PASSED
# style: replaces the head first, then sets requires_grad by parameter name (True only for
# fc.*), and prints how many tensors train.
from torch import nn


def prepare(model, num_classes):
    in_features = model.fc.in_features
    model.fc = nn.Linear(in_features, num_classes)
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("fc.")
    n_train = sum(1 for p in model.parameters() if p.requires_grad)
    print(f"trainable tensors: {n_train}")
    return model
