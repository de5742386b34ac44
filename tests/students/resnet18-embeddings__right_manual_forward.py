# expect: PASSED
# style: runs ResNet18's layers by hand up to avgpool + flatten, restoring the caller's train/eval mode afterwards.
import torch


def embed(model, images):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = model.conv1(images)
            x = model.bn1(x)
            x = model.relu(x)
            x = model.maxpool(x)
            x = model.layer1(x)
            x = model.layer2(x)
            x = model.layer3(x)
            x = model.layer4(x)
            x = model.avgpool(x)
            x = torch.flatten(x, 1)
    finally:
        model.train(was_training)
    return x
