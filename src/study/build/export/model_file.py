"""A user's model file as its own source artifact: checked by loading and running it once in its
runtime, then copied into ``artifacts/`` so its size, hash and record sit beside every other artifact."""

from __future__ import annotations

import shutil
from pathlib import Path

from study.build.models.spec import ModelSpec
from study.build.models.byo import file_path
from study.core.registry import resolve
from study.core.runtimes import RUNTIMES, runtime_for_format

FRAMEWORK_FORMAT = {"onnx": "onnx", "tflite": "tflite", "executorch": "executorch"}


def _backend(model: ModelSpec, artifact: Path, batch: int):
    runtime = runtime_for_format(FRAMEWORK_FORMAT[model.framework])
    backend = resolve(RUNTIMES[runtime].backend)(threads=1)
    backend.load(artifact, model, batch)
    return backend


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    source = model.source_file() if model.source_file is not None else file_path(model.name)
    _backend(model, source, batch).predict(model.example_input(batch=batch))  # a broken file fails here
    shutil.copyfile(source, destination)
    return {"exporter": f"your file, copied ({source})"}


def reference(model: ModelSpec, weights: Path, inputs):
    from study.build.validation import run_in_chunks

    return run_in_chunks(_backend(model, weights, 1).predict, inputs, 1)
