from torchvision import transforms

preprocess = transforms.Compose(
    [
        # Squashes the image to 224 x 224 instead of resizing the shorter side and cropping.
        transforms.Resize((224, 224)),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]
)
