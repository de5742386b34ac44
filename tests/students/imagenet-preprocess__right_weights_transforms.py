# expect: PASSED
# style: the preset the weights carry (explanation says it is accepted). It resizes a uint8 TENSOR, not the
# PIL image, so it relies on the 0.025 tolerance absorbing tensor-vs-PIL interpolation rounding.
from torchvision.models import ResNet18_Weights

preprocess = ResNet18_Weights.IMAGENET1K_V1.transforms()
