# expect: PASSED
# style: by hand with PIL + numpy: compute the new size, PIL bilinear resize, slice the centre, normalise in float32.
import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(image):
    image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = 256, int(256 * h / w)
    else:
        new_w, new_h = int(256 * w / h), 256
    image = image.resize((new_w, new_h), Image.BILINEAR)

    left = (new_w - 224) // 2
    top = (new_h - 224) // 2
    image = image.crop((left, top, left + 224, top + 224))

    arr = np.asarray(image, dtype=np.float32) / 255.0  # H, W, C in [0, 1]
    arr = (arr - MEAN) / STD
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())  # C, H, W
