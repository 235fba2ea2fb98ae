"""Keras -> TensorFlow SavedModel (a directory) with a ``serve`` endpoint."""

from __future__ import annotations

from pathlib import Path

from study.build.export.keras_source import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    load_source(model, weights).export(str(destination), format="tf_saved_model", verbose=False)
    return {"exporter": "keras.Model.export(tf_saved_model)"}
