# expect: PASSED
# style: nn.Sequential of all children but the last, plus nn.Flatten; shares the caller's modules (fc untouched);
# prints the shape.
import torch
from torch import nn


def embed(model, images):
    feature_extractor = nn.Sequential(*list(model.children())[:-1], nn.Flatten())
    feature_extractor.eval()
    with torch.no_grad():
        features = feature_extractor(images)
    print("embeddings:", tuple(features.shape))
    return features
