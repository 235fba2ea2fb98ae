"""Keras -> TFLite with TensorFlow's TFLiteConverter, at a fixed batch size.

``from_keras_model`` on a wrapper with a fixed batch: converting a traced ``tf.function`` instead
leaves Keras 3's variables as READ_VARIABLE ops, which LiteRT runs to NaN.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from study.build.export.keras_source import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    source = load_source(model, weights)
    fixed = keras.Input(batch_shape=(batch, *model.input_shape), dtype="float32")
    wrapper = keras.Model(fixed, source(fixed, training=False))
    converter = tf.lite.TFLiteConverter.from_keras_model(wrapper)
    destination.write_bytes(converter.convert())
    return {"exporter": "tf.lite.TFLiteConverter.from_keras_model"}
