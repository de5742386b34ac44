# expect: PASSED
# style: a plain function built from torchvision.transforms.functional, with type hints and named constants.
import torch
import torchvision.transforms.functional as TF
from PIL import Image

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def preprocess(image: Image.Image) -> torch.Tensor:
    image = TF.resize(image, 256)  # one number: the shorter side becomes 256
    image = TF.center_crop(image, 224)
    tensor = TF.to_tensor(image)  # [3, 224, 224], values in [0, 1]
    return TF.normalize(tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD)
