# expect: WRONG_ANSWER failing values-landscape, values-portrait, values-downscaled
# mistake: resizes the shorter side to 224 (not 256) before the 224 crop, so the crop covers a wider field of view.
from torchvision import transforms

preprocess = transforms.Compose(
    [
        transforms.Resize(224),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]
)
