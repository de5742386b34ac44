# expect: WRONG_ANSWER failing output-shape
# mistake: numpy normalisation with float64 mean/std arrays promotes the result to float64 (values are right,
# and value checks ignore dtype, so only the dtype in output-shape fails).
import numpy as np
import torch
from torchvision import transforms

_resize_crop = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])


def preprocess(image):
    arr = np.asarray(_resize_crop(image)) / 255.0  # float64
    arr = (arr - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())
