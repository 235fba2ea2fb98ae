"""MobileNetV2 from torchvision's definition (no pretrained weights can be downloaded here)."""

from study.models import ModelSpec


def define():
    import torch
    import torchvision

    torch.manual_seed(0)  # identical weights in every process that builds it
    return torchvision.models.mobilenet_v2(weights=None).eval()


SPEC = ModelSpec(
    name="mobilenet_v2",
    framework="torch",
    input_shape=(3, 224, 224),
    description="torchvision MobileNetV2, 224x224 RGB, 1000 classes, seeded random weights",
    define=define,
)
