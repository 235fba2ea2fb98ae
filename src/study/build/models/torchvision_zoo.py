"""ImageNet classifiers from torchvision's definitions (no pretrained weights can be downloaded here),
seeded and batch-norm-calibrated so their outputs are informative."""

from __future__ import annotations

from functools import partial

from study.build.models.spec import ModelSpec
from study.build.models.calibration import calibrate_torch

IMAGE = (3, 224, 224)


def _define(builder: str):
    import torch
    import torchvision

    torch.manual_seed(0)  # identical weights in every process that builds it
    return getattr(torchvision.models, builder)(weights=None).eval()


def _spec(name: str, builder: str, description: str) -> ModelSpec:
    return ModelSpec(name=name, framework="torch", input_shape=IMAGE,
                     description=f"torchvision {description}, 224x224 RGB NCHW, 1000 classes, seeded, BN-calibrated",
                     define=partial(_define, builder), train=partial(calibrate_torch, input_shape=IMAGE))


MOBILENET_V2 = _spec("mobilenet_v2", "mobilenet_v2", "MobileNetV2")
MOBILENET_V3_SMALL = _spec("mobilenet_v3_small", "mobilenet_v3_small", "MobileNetV3-Small")
EFFICIENTNET_B0 = _spec("efficientnet_b0", "efficientnet_b0", "EfficientNet-B0")
RESNET18 = _spec("resnet18", "resnet18", "ResNet-18")
