"""PyTorch -> ONNX with the dynamo exporter (dynamic batch); the legacy TorchScript exporter if it fails."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from study.build.export.torch_state import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = load_source(model, weights)
    example = (torch.from_numpy(model.example_input(batch=2)),)
    try:
        program = torch.onnx.export(
            module, example, dynamo=True, input_names=["input"], output_names=["output"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
        exporter, fallback_reason = "dynamo", ""
        proto = program.model_proto
    except Exception as exc:  # the legacy exporter still handles some graphs dynamo cannot
        fallback_reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        legacy = destination.with_suffix(".legacy.onnx")
        torch.onnx.export(
            module, example, str(legacy), dynamo=False, input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
        proto = onnx.load(str(legacy))
        legacy.unlink()
        exporter = "legacy"
    # one self-contained file (no external .data beside it), so size and hash describe the whole model
    onnx.save_model(proto, str(destination), save_as_external_data=False)
    onnx.checker.check_model(str(destination))
    return {"exporter": exporter, "fallback_reason": fallback_reason}
