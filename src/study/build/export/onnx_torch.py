"""ONNX file -> PyTorch module (onnx2torch), saved as a state_dict: the route that takes a user's ONNX model
into PyTorch eager and, through ``torch_state.load_source``, into every PyTorch route (TorchScript, ExecuTorch,
TFLite through litert-torch).

Exporters (PaddlePaddle's among them) list initializers among the graph inputs, which onnx2torch reads as
inputs; they are removed first, and dimensions the file leaves free are fixed to the probed input shape. A graph
of a newer opset than onnx2torch knows every operator of (torch's exporter writes 20, where onnx2torch lacks
``Constant``) is converted down with onnx's version converter first; the record's note says so. onnx2torch
then reads names that Paddle's exporter leaves dangling (a KeyError on an initializer) until onnxslim has
simplified the graph; a shipped TFLite file comes in through tf2onnx first.
"""

from __future__ import annotations

from pathlib import Path

import torch

from study.build.models.spec import ModelSpec


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


def onnx_file(path: Path) -> Path:
    """An ONNX file for onnx2torch: ``path`` itself, or for a TFLite file its tf2onnx conversion, made once and
    kept beside it (named by the TFLite file's hash, so a changed file is converted again). tf2onnx runs in its
    own process: TensorFlow and PyTorch in one process can crash it."""
    path = Path(path)
    if path.suffix != ".tflite":
        return path
    import subprocess
    import sys
    import tempfile

    from study.build.downloads import sha256_of
    from study.build.export.tflite_onnx import OPSET

    converted = path.with_name(f"{path.stem}.{sha256_of(path)[:12]}.tf2onnx.onnx")
    if not converted.exists():
        with tempfile.TemporaryDirectory(dir=path.parent) as staging:
            partial = Path(staging) / converted.name
            done = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(path), "--output",
                                   str(partial), "--opset", str(OPSET)], capture_output=True, text=True)
            if done.returncode != 0 or not partial.exists():
                raise RuntimeError(f"tf2onnx could not convert {path.name}: "
                                   f"{(done.stderr.strip().splitlines() or ['no output'])[-1]}")
            partial.replace(converted)  # the same folder: the finished file takes its name at once
    return converted


def prepared(onnx_path: Path, model: ModelSpec):
    """The ONNX graph as onnx2torch needs it: within its opset, initializers out of the inputs, free dims fixed,
    simplified (constant folding and dead names removed, which Paddle's graphs need)."""
    import onnx

    graph_model, _ = _within_opset(onnx.load(str(onnx_file(onnx_path))))
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
    import onnxslim

    return onnxslim.slim(graph_model)


def _constant(graph_module: torch.fx.GraphModule, node) -> "torch.Tensor | None":
    """The value of a graph argument that is a stored constant (an initializer), else None."""
    if getattr(node, "op", None) != "get_attr":
        return None
    value = graph_module
    for part in node.target.split("."):
        value = getattr(value, part)
    return value


def _replace(graph_module: torch.fx.GraphModule, node, function, args: tuple, kwargs: dict | None = None) -> None:
    with graph_module.graph.inserting_before(node):
        static = graph_module.graph.call_function(function, args, kwargs or {})
    node.replace_all_uses_with(static)
    graph_module.graph.erase_node(node)


def _static_reshape(graph_module: torch.fx.GraphModule, node, reshape) -> None:
    data, shape = node.args[0], node.args[1]
    value = _constant(graph_module, shape)
    if value is None:
        return
    target = [int(d) for d in value.tolist()]
    if 0 in target:  # a 0 keeps the input's dimension, as ONNX says
        with graph_module.graph.inserting_before(node):
            target = [graph_module.graph.call_function(torch.ops.aten.sym_size.int, (data, i)) if d == 0 else d
                      for i, d in enumerate(target)]
    _replace(graph_module, node, torch.reshape, (data, tuple(target)))


def _static_resize(graph_module: torch.fx.GraphModule, node, resize) -> None:
    from onnx2torch.node_converters.resize import _onnx_mode_to_torch_mode

    data, _, scales, sizes = (list(node.args) + [None] * 4)[:4]
    scale_values, size_values = _constant(graph_module, scales), _constant(graph_module, sizes)
    if size_values is not None and size_values.numel():
        keywords = {"size": tuple(int(d) for d in size_values.tolist()[2:])}
        spatial = size_values.numel() - 2
    elif sizes is None and scale_values is not None and scale_values.numel():
        factors = [float(f) for f in scale_values.tolist()]
        if factors[:2] != [1.0, 1.0]:
            return
        keywords = {"scale_factor": tuple(factors[2:])}
        spatial = len(factors) - 2
    else:
        return
    keywords.update(mode=_onnx_mode_to_torch_mode(resize.onnx_mode, spatial), align_corners=resize.align_corners)
    _replace(graph_module, node, torch.nn.functional.interpolate, (data,), keywords)


def _static_pad(graph_module: torch.fx.GraphModule, node, pad) -> None:
    from onnx2torch.node_converters.pad import _onnx_padding_to_torch, _torch_padding_to_mode_format

    data, pads, value = (list(node.args) + [None] * 3)[:3]
    pad_values = _constant(graph_module, pads)
    fill = 0.0 if value is None else _constant(graph_module, value)
    if pad_values is None or fill is None:
        return
    torch_pads = _torch_padding_to_mode_format(_onnx_padding_to_torch([int(p) for p in pad_values.tolist()]),
                                               pad.mode)
    _replace(graph_module, node, torch.nn.functional.pad, (data, tuple(torch_pads)),
             {"mode": pad.mode, "value": float(fill)})


def _static_shapes(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """onnx2torch's Reshape, Resize and Pad read their shape, scales or pads from a tensor and branch on its
    values, which torch.export (ExecuTorch, litert-torch) cannot trace (it stops on a data-dependent guard, or
    loses itself in symbolic shapes). Where that tensor is a constant of the graph, the call becomes the plain
    PyTorch function with the values written in."""
    from onnx2torch.node_converters.pad import OnnxPadDynamic
    from onnx2torch.node_converters.reshape import OnnxReshape
    from onnx2torch.node_converters.resize import OnnxResize

    rewrites = {OnnxReshape: _static_reshape, OnnxResize: _static_resize, OnnxPadDynamic: _static_pad}
    modules = dict(graph_module.named_modules())
    for node in list(graph_module.graph.nodes):
        if node.op == "call_module" and type(modules.get(node.target)) in rewrites:
            rewrites[type(modules[node.target])](graph_module, node, modules[node.target])
    graph_module.graph.eliminate_dead_code()
    graph_module.delete_all_unused_submodules()
    _drop_unused_constants(graph_module)
    graph_module.recompile()
    return graph_module


def _drop_unused_constants(graph_module: torch.fx.GraphModule) -> None:
    """Constants that no call reads any more (the shapes written into the calls above, Resize's empty region of
    interest) would still be program inputs; ExecuTorch refuses an empty one ("0 in strides")."""
    used = {node.target for node in graph_module.graph.nodes if node.op == "get_attr"}
    for owner_name, owner in list(graph_module.named_modules()):
        for name in list(owner._buffers):
            if (f"{owner_name}.{name}" if owner_name else name) not in used:
                del owner._buffers[name]


def module(model: ModelSpec, onnx_path: Path) -> torch.nn.Module:
    from onnx2torch import convert

    return _static_shapes(convert(prepared(onnx_path, model))).eval()


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    converted = module(model, weights)
    with torch.no_grad():
        converted(*model.torch_example(batch))  # a graph onnx2torch cannot run fails here
    torch.save(converted.state_dict(), destination)
    import onnx

    _, note = _within_opset(onnx.load(str(onnx_file(weights))))
    if Path(weights).suffix == ".tflite":
        note = "; ".join(filter(None, ["the TFLite file through tf2onnx", note]))
    return {"exporter": "onnx2torch.convert", "note": note,
            "parameters": sum(p.numel() for p in converted.parameters())}
