"""ImageNet classifiers from keras.applications' definitions (weights=None: nothing is downloaded),
seeded and batch-norm-calibrated so their outputs are informative."""

from __future__ import annotations

from functools import partial

from study.models import ModelSpec
from study.models.calibration import calibrate_keras

IMAGE = (224, 224, 3)  # Keras is channels-last


def _define(builder: str):
    import keras

    keras.utils.set_random_seed(0)
    return getattr(keras.applications, builder)(weights=None, input_shape=IMAGE, classes=1000)


def _spec(name: str, builder: str, description: str) -> ModelSpec:
    return ModelSpec(name=name, framework="keras", input_shape=IMAGE,
                     description=f"keras.applications {description}, 224x224 RGB NHWC, 1000 classes, seeded, "
                                 "BN-calibrated",
                     define=partial(_define, builder), train=partial(calibrate_keras, input_shape=IMAGE))


MOBILENET_V2 = _spec("keras_mobilenet_v2", "MobileNetV2", "MobileNetV2")
MOBILENET_V3_SMALL = _spec("keras_mobilenet_v3_small", "MobileNetV3Small", "MobileNetV3Small")
EFFICIENTNET_B0 = _spec("keras_efficientnet_b0", "EfficientNetB0", "EfficientNetB0")
