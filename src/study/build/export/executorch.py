"""PyTorch -> ExecuTorch program (.pte) lowered to the XNNPACK delegate."""

from __future__ import annotations

from pathlib import Path

import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge_transform_and_lower

from study.build.export.torch_state import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = load_source(model, weights)
    example = model.torch_example(batch)
    program = to_edge_transform_and_lower(torch.export.export(module, example),
                                          partitioner=[XnnpackPartitioner()]).to_executorch()
    destination.write_bytes(program.buffer)
    return {"exporter": "torch.export + to_edge_transform_and_lower(XNNPACK)"}
