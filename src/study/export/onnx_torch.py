"""ONNX file -> PyTorch module (onnx2torch), saved as a state_dict: the route that takes a user's ONNX model
into PyTorch eager and, through ``torch_state.load_source``, into every PyTorch route (TorchScript, ExecuTorch,
TFLite through litert-torch).

Exporters (PaddlePaddle's among them) list initializers among the graph inputs, which onnx2torch reads as
inputs; they are removed first, and dimensions the file leaves free are fixed to the probed input shape.
"""

from __future__ import annotations

from pathlib import Path

import torch

from study.models import ModelSpec


def prepared(onnx_path: Path, input_shape: tuple[int, ...]):
    """The ONNX graph as onnx2torch needs it: initializers out of the inputs, free dimensions fixed."""
    import onnx

    graph_model = onnx.load(str(onnx_path))
    graph = graph_model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    del graph.input[:]
    graph.input.extend(inputs)
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    for dim, size in zip(list(dims)[1:], input_shape):
        if dim.dim_value <= 0:
            dim.ClearField("dim_param")
            dim.dim_value = size
    return graph_model


def module(model: ModelSpec, onnx_path: Path) -> torch.nn.Module:
    from onnx2torch import convert

    return convert(prepared(onnx_path, model.input_shape)).eval()


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    converted = module(model, weights)
    with torch.no_grad():
        converted(torch.from_numpy(model.example_input(batch=batch)))  # a graph onnx2torch cannot run fails here
    torch.save(converted.state_dict(), destination)
    return {"exporter": "onnx2torch.convert", "parameters": sum(p.numel() for p in converted.parameters())}
