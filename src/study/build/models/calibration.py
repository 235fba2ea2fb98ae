"""Batch-norm calibration for networks built without pretrained weights.

A freshly initialised ImageNet network has running statistics of mean 0 / variance 1, so its
activations drift layer by layer and its outputs come out near-uniform for any input: a parity
check on such outputs passes vacuously. Setting each batch-norm layer's statistics from a seeded
calibration batch (what the network would have learned about its inputs) makes the outputs depend
on the input, so a converted model that computes something different shows it.
"""

from __future__ import annotations

import numpy as np

CALIBRATION_SAMPLES = 32


def calibration_batch(input_shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    """Seeded inputs of the same distribution as ModelSpec.example_input, but other draws."""
    return np.random.default_rng(seed).standard_normal((CALIBRATION_SAMPLES, *input_shape), dtype=np.float32)


def calibrate_torch(module, input_shape):
    import torch

    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    module.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration passes
        norm.train()
    with torch.no_grad():
        for chunk in np.array_split(calibration_batch(input_shape), 4):
            module(torch.from_numpy(chunk))
    for norm in norms:
        norm.momentum = 0.1
    return module.eval()


def calibrate_keras(model, input_shape):
    import keras

    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0  # moving statistics := this batch's statistics
    model(calibration_batch(input_shape), training=True)
    for norm, momentum in zip(norms, saved):
        norm.momentum = momentum
    return model
