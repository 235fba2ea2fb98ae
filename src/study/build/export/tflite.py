"""PyTorch -> TFLite with litert-torch (the NCHW input layout is kept)."""

from __future__ import annotations

from pathlib import Path

import litert_torch

from study.build.export.torch_state import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = load_source(model, weights)
    example = model.torch_example(batch)
    litert_torch.convert(module, example).export(str(destination))
    return {"exporter": "litert_torch.convert"}
