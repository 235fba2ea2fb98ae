"""Keras -> ONNX with tf2onnx, dynamic batch."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
import tf2onnx

from study.build.export.keras_source import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    source = load_source(model, weights)
    signature = (tf.TensorSpec((None, *model.input_shape), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(source, input_signature=signature, output_path=str(destination))
    return {"exporter": "tf2onnx.convert.from_keras"}
