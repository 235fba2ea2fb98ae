"""The source weights: build the model from its definition and save its state_dict (tensors only)."""

from __future__ import annotations

from pathlib import Path

import torch

from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = model.build()
    torch.save(module.state_dict(), destination)
    return {"exporter": "torch.save(state_dict)", "parameters": sum(p.numel() for p in module.parameters())}


def load_source(model: ModelSpec, weights: Path) -> torch.nn.Module:
    """The model with the saved source weights, as every exporter starts from it; a user's ONNX or TFLite file
    (its own source) as onnx2torch converts it, so every PyTorch route serves it too."""
    if model.framework in ("onnx", "tflite"):  # a TFLite file comes through tf2onnx first
        from study.build.export import onnx_torch

        return onnx_torch.module(model, weights)
    module = model.define()
    module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return module.eval()


def reference(model: ModelSpec, weights: Path, inputs):
    from study.core.arrays import tensors_out

    with torch.no_grad():
        return tensors_out(load_source(model, weights)(torch.from_numpy(inputs)))
