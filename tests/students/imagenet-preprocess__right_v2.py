# expect: PASSED
# style: torchvision.transforms.v2 (ToImage + ToDtype(scale=True) instead of ToTensor); returns a tv_tensors.Image.
import torch
from torchvision.transforms import v2

preprocess = v2.Compose(
    [
        v2.Resize(256, antialias=True),
        v2.CenterCrop(224),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]
)
