"""The source weights of a Keras model: built, then saved as a Keras v3 file (JSON config + weights)."""

from __future__ import annotations

from pathlib import Path

import keras

from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    built = model.build()
    built.save(str(destination))
    return {"exporter": "keras.Model.save", "parameters": int(built.count_params())}


def load_source(model: ModelSpec, weights: Path) -> keras.Model:
    # safe_mode (the default) refuses to deserialise arbitrary code such as Lambda layers
    return keras.models.load_model(str(weights), compile=False, safe_mode=True)


def reference(model: ModelSpec, weights: Path, inputs):
    return keras.ops.convert_to_numpy(load_source(model, weights)(inputs, training=False))
