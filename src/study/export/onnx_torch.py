"""ONNX file -> PyTorch module (onnx2torch), saved as a state_dict: the route that takes a user's ONNX model
into PyTorch eager and, through ``torch_state.load_source``, into every PyTorch route (TorchScript, ExecuTorch,
TFLite through litert-torch).

Exporters (PaddlePaddle's among them) list initializers among the graph inputs, which onnx2torch reads as
inputs; they are removed first, and dimensions the file leaves free are fixed to the probed input shape. A graph
of a newer opset than onnx2torch knows every operator of (torch's exporter writes 20, where onnx2torch lacks
``Constant``) is converted down with onnx's version converter first; the record's note says so.
"""

from __future__ import annotations

from pathlib import Path

import torch

from study.models import ModelSpec


ONNX2TORCH_OPSET = 17  # the newest opset whose every operator onnx2torch 1.5.15 converts


def _within_opset(graph_model):
    """(model, note): the graph at ONNX2TORCH_OPSET when it was newer and the version converter can take it down."""
    from onnx import version_converter

    opset = next((o.version for o in graph_model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset <= ONNX2TORCH_OPSET:
        return graph_model, ""
    try:
        return (version_converter.convert_version(graph_model, ONNX2TORCH_OPSET),
                f"opset {opset} converted to {ONNX2TORCH_OPSET} for onnx2torch")
    except Exception as exc:  # onnx2torch then says which operator it cannot convert
        return graph_model, f"opset {opset} kept ({type(exc).__name__} converting it down)"


def _drop_needless_allowzero(graph) -> None:
    """torch's dynamo exporter marks every Reshape ``allowzero=1``, which onnx2torch does not implement; it only
    changes the meaning of a 0 in the target shape, so where that shape is a constant without a 0 it is dropped."""
    from onnx import numpy_helper

    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None:
                constants[node.output[0]] = numpy_helper.to_array(value.t)
    for node in graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in constants:
            continue
        if (constants[node.input[1]] != 0).all():
            for attribute in node.attribute:
                if attribute.name == "allowzero":
                    attribute.i = 0


def prepared(onnx_path: Path, model: ModelSpec):
    """The ONNX graph as onnx2torch needs it: within its opset, initializers out of the inputs, free dims fixed."""
    import onnx

    graph_model, _ = _within_opset(onnx.load(str(onnx_path)))
    _drop_needless_allowzero(graph_model.graph)
    graph = graph_model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    del graph.input[:]
    graph.input.extend(inputs)
    shapes = [spec["shape"] for spec in model.inputs] if model.several_inputs else [(1, *model.input_shape)]
    for graph_input, shape in zip(inputs, shapes):
        for dim, size in list(zip(graph_input.type.tensor_type.shape.dim, shape))[1:]:  # the batch stays free
            if dim.dim_value <= 0:
                dim.ClearField("dim_param")
                dim.dim_value = size
    return graph_model


def _static_reshapes(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """onnx2torch's Reshape reads its target shape from a tensor and branches on its values, which torch.export
    (ExecuTorch, litert-torch) cannot trace; a shape that is a constant of the graph becomes a plain
    ``torch.reshape`` with that shape (a 0 keeps the input's dimension, as ONNX says)."""
    from onnx2torch.node_converters.reshape import OnnxReshape

    modules = dict(graph_module.named_modules())
    for node in list(graph_module.graph.nodes):
        if node.op != "call_module" or not isinstance(modules.get(node.target), OnnxReshape):
            continue
        data, shape = node.args[0], node.args[1]
        if getattr(shape, "op", None) != "get_attr":
            continue
        value = graph_module
        for part in shape.target.split("."):
            value = getattr(value, part)
        target = [int(d) for d in value.tolist()]
        with graph_module.graph.inserting_before(node):
            if 0 in target:
                dims = [graph_module.graph.call_function(torch.ops.aten.sym_size.int, (data, i)) if d == 0 else d
                        for i, d in enumerate(target)]
                static = graph_module.graph.call_function(torch.reshape, (data, dims))
            else:
                static = graph_module.graph.call_function(torch.reshape, (data, tuple(target)))
        node.replace_all_uses_with(static)
        graph_module.graph.erase_node(node)
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return graph_module


def module(model: ModelSpec, onnx_path: Path) -> torch.nn.Module:
    from onnx2torch import convert

    return _static_reshapes(convert(prepared(onnx_path, model))).eval()


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    converted = module(model, weights)
    with torch.no_grad():
        converted(*model.torch_example(batch))  # a graph onnx2torch cannot run fails here
    torch.save(converted.state_dict(), destination)
    import onnx

    _, note = _within_opset(onnx.load(str(weights)))
    return {"exporter": "onnx2torch.convert", "note": note,
            "parameters": sum(p.numel() for p in converted.parameters())}
