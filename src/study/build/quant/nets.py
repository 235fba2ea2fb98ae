"""The small models of the quantization study, trained here in minutes on 2 cores.

``QUANT_MODELS`` maps a name to its framework and builder; adding a model is a function and a line.
PyTorch models take NCHW input, Keras models NHWC (the study transposes for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

EPOCHS = 12
BATCH = 64


@dataclass(frozen=True)
class QuantModel:
    name: str
    framework: str          # torch or keras
    build: Callable          # (channels, classes, seed, side) -> untrained model
    description: str
    input_side: int = 16     # the images are resized to side x side for it
    litert_from_torch: bool = False  # also into LiteRT through litert-torch and ai-edge-quantizer (slower to build)


def mobilenet_small(channels: int, classes: int, seed: int, side: int = 16):
    """MobileNetV2's inverted residual blocks (torchvision's own) at 16x16: stride-1 stem, 128-wide head."""
    import torch
    from torch import nn
    from torchvision.models.mobilenetv2 import InvertedResidual
    from torchvision.ops.misc import Conv2dNormActivation

    torch.manual_seed(seed)
    layers = [Conv2dNormActivation(channels, 16, stride=1, activation_layer=nn.ReLU6)]
    width = 16
    for expand, out, stride in ((1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 64, 1)):
        layers.append(InvertedResidual(width, out, stride, expand))
        width = out
    layers.append(Conv2dNormActivation(width, 128, kernel_size=1, activation_layer=nn.ReLU6))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


def plain_cnn(channels: int, classes: int, seed: int, side: int = 16):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(64, classes))


def keras_mobilenet_small(channels: int, classes: int, seed: int, side: int = 16):
    """The Keras twin of mobilenet_small's design: inverted residuals with depthwise convolutions (NHWC)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)

    def block(x, expand: int, out: int, stride: int):
        shortcut = x
        y = layers.Conv2D(x.shape[-1] * expand, 1, use_bias=False)(x)
        y = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(y))
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
        y = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(y))
        y = layers.BatchNormalization(momentum=0.9)(layers.Conv2D(out, 1, use_bias=False)(y))
        return layers.Add()([shortcut, y]) if stride == 1 and shortcut.shape[-1] == out else y

    inputs = keras.Input((side, side, channels))
    x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)))
    for expand, out, stride in ((1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 64, 1)):
        x = block(x, expand, out, stride)
    x = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(layers.Conv2D(128, 1, use_bias=False)(x)))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes)(x), name="keras_mobilenet_small")


def mobilenet_64(channels: int, classes: int, seed: int, side: int = 64):
    """torchvision's MobileNetV2 itself at width 0.35 (its 17 inverted residual blocks, stride 32), for 64x64 input:
    a MobileNet-class network at a realistic scale, with a stem for the dataset's channels."""
    import torch
    from torch import nn
    from torchvision.models import mobilenet_v2

    torch.manual_seed(seed)
    model = mobilenet_v2(width_mult=0.35, num_classes=classes)
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(channels, stem.out_channels, 3, stride=2, padding=1, bias=False)
    return model


QUANT_MODELS = {
    "mobilenet_small": QuantModel("mobilenet_small", "torch", mobilenet_small,
                                  "MobileNetV2-style (torchvision blocks) at 16x16, PyTorch"),
    "plain_cnn": QuantModel("plain_cnn", "torch", plain_cnn, "three conv-BN-ReLU layers and a linear head, PyTorch"),
    "keras_mobilenet_small": QuantModel("keras_mobilenet_small", "keras", keras_mobilenet_small,
                                        "MobileNetV2-style inverted residuals at 16x16, Keras"),
    "mobilenet_64": QuantModel("mobilenet_64", "torch", mobilenet_64,
                               "torchvision MobileNetV2 (width 0.35) at 64x64, PyTorch; also into LiteRT", 64, True),
}


def train(spec: QuantModel, data, seed: int, epochs: int = EPOCHS, log=print):
    """Fit on the dataset's training split with a fixed seed; returns the trained model (eval mode)."""
    classes = len(data.classes)
    model = spec.build(data.channels, classes, seed, spec.input_side)
    if spec.framework == "torch":
        import torch

        torch.manual_seed(seed)
        x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * -(-len(x) // BATCH))
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), BATCH):
                batch = order[start:start + BATCH]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
                loss.backward()
                optimizer.step()
                schedule.step()
        return model.eval()
    import keras

    keras.utils.set_random_seed(seed)
    steps = epochs * -(-len(data.x_train) // BATCH)
    model.compile(optimizer=keras.optimizers.AdamW(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.transpose(data.x_train, (0, 2, 3, 1)), data.y_train, batch_size=BATCH, epochs=epochs, verbose=0,
              shuffle=True)
    return model
