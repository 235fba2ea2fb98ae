"""ImageNet classifiers from keras.applications' definitions (weights=None: nothing is downloaded),
seeded and batch-norm-calibrated so their outputs are informative."""

from __future__ import annotations

from functools import partial

from study.build.models.spec import ModelSpec
from study.build.models.calibration import calibrate_keras

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


def _resnet18_definition():
    """ResNet-18 (He et al. 2016) in Keras, laid out as torchvision's: keras.applications has no ResNet-18."""
    import keras
    from keras import layers

    def block(x, filters, stride):
        shortcut = x
        y = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, 1, padding="same", use_bias=False)(y))
        if stride != 1 or shortcut.shape[-1] != filters:
            shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, stride, use_bias=False)(shortcut))
        return layers.ReLU()(layers.Add()([y, shortcut]))

    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMAGE)
    x = layers.Conv2D(64, 7, 2, padding="same", use_bias=False)(inputs)
    x = layers.MaxPooling2D(3, 2, padding="same")(layers.ReLU()(layers.BatchNormalization()(x)))
    for filters, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
        x = block(x, filters, stride)
    outputs = layers.Dense(1000)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet18")


RESNET18 = ModelSpec(name="keras_resnet18", framework="keras", input_shape=IMAGE,
                     description="ResNet-18 defined in Keras after He et al. 2016 (torchvision's layout), 224x224 RGB "
                                 "NHWC, 1000 classes, seeded, BN-calibrated",
                     define=_resnet18_definition, train=partial(calibrate_keras, input_shape=IMAGE))
