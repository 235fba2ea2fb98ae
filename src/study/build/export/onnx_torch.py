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


def _rename_uses(nodes, renamed: dict[str, str]) -> None:
    """Every read of a value in ``renamed`` by these nodes, and by the subgraphs they hold (If branches, Loop
    bodies), reads its new name instead."""
    from onnx import AttributeProto

    for node in nodes:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                _rename_uses(attribute.g.node, renamed)
            elif attribute.type == AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    _rename_uses(subgraph.node, renamed)


def _fix_values(graph, model: ModelSpec) -> None:
    """An input declared with a fixed value (``@sr:=16000``) is read as that constant everywhere in the graph, so the
    shape arithmetic and the ``If`` conditions that depend on it fold; the input itself stays, unread, so every route
    takes the same arguments."""
    import numpy as np
    from onnx import numpy_helper

    for spec in model.inputs:
        if "value" in spec:
            constant = f"{spec['name']}__fixed"
            value = np.full(spec["shape"], spec["value"], dtype=spec["dtype"])
            graph.initializer.append(numpy_helper.from_array(value, constant))
            _rename_uses(graph.node, {spec["name"]: constant})


def _constants(graph) -> dict:
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _inline_constant_ifs(graph) -> int:
    """Each ``If`` whose condition is a constant becomes the nodes of the branch it always takes (the other is
    dropped): names the branch defines get the node's name as a prefix, its outputs reach the If's through
    Identity. onnx2torch has no ``If``; once inlined, the graph has no control flow left. Returns how many."""
    from onnx import helper

    constants, inlined, nodes = _constants(graph), 0, []
    for node in graph.node:
        if node.op_type != "If" or node.input[0] not in constants:
            nodes.append(node)
            continue
        taken = "then_branch" if bool(constants[node.input[0]].reshape(-1)[0]) else "else_branch"
        branch = next(a.g for a in node.attribute if a.name == taken)
        prefix = f"{node.name or node.output[0]}/"
        local = {i.name for i in branch.initializer} | {o for n in branch.node for o in n.output if o}
        renamed = {name: prefix + name for name in local}
        for initializer in branch.initializer:
            initializer.name = renamed[initializer.name]
            graph.initializer.append(initializer)
        _rename_uses(branch.node, renamed)
        for inner in branch.node:
            inner.output[:] = [renamed.get(o, o) for o in inner.output]
            nodes.append(inner)
        for branch_output, output in zip(branch.output, node.output):
            source = renamed.get(branch_output.name, branch_output.name)
            nodes.append(helper.make_node("Identity", [source], [output], name=f"{prefix}out/{output}"))
        inlined += 1
    if inlined:
        copies = [type(node)() for node in nodes]  # detached from the repeated field before it is cleared
        for copy, node in zip(copies, nodes):
            copy.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(copies)
    return inlined


def unconvertible(graph_model) -> list[str]:
    """The nodes onnx2torch (with the study's converters, ``study.build.export.onnx_ops``) has no converter for, each
    as "OpType node 'name'" with what would get past it."""
    import study.build.export.onnx_ops  # noqa: F401  (registers the converters onnx2torch lacks)
    from onnx2torch.node_converters.registry import get_converter

    opsets = {o.domain or "": o.version for o in graph_model.opset_import}
    hints = {"If": "its condition is not a constant: declare the input it reads with a fixed value, such as "
                   "model.onnx@x=1x512,sr:=16000",
             "Loop": "a loop whose trip count is not a constant cannot be unrolled",
             "Scan": "a loop whose trip count is not a constant cannot be unrolled"}
    missing = []
    for node in graph_model.graph.node:
        try:
            get_converter(domain=node.domain, operation_type=node.op_type, version=opsets.get(node.domain or "", 1))
        except NotImplementedError:
            hint = hints.get(node.op_type, "add a converter in src/study/build/export/onnx_ops (one file)")
            missing.append(f"{node.op_type} node {node.name!r} ({hint})")
    return missing


def prepared(onnx_path: Path, model: ModelSpec):
    """The ONNX graph as onnx2torch needs it: within its opset, initializers out of the inputs, free dims fixed (the
    batch too where the graph computes on its own shape, so that arithmetic folds), declared input values written
    in, simplified (constant folding and dead names removed, which Paddle's graphs need), and each ``If`` on a
    constant condition inlined. onnx2torch's converters then see shapes and branches as constants."""
    import onnx
    import onnxslim

    graph_model, _ = _within_opset(onnx.load(str(onnx_file(onnx_path))))
    _drop_needless_allowzero(graph_model.graph)
    graph = graph_model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    del graph.input[:]
    graph.input.extend(inputs)  # copies: the dims below are fixed on the graph's own inputs
    inputs = list(graph.input)
    shapes = [spec["shape"] for spec in model.inputs] if model.several_inputs else [(1, *model.input_shape)]
    first = 0 if model.runs_at_batch_one_only else 1  # otherwise the batch stays free
    for graph_input, shape in zip(inputs, shapes):
        for dim, size in list(zip(graph_input.type.tensor_type.shape.dim, shape))[first:]:
            if dim.dim_value <= 0:
                dim.ClearField("dim_param")
                dim.dim_value = size
    _fix_values(graph, model)
    names = [i.name for i in inputs]
    slim = onnxslim.slim(graph_model)
    while _inline_constant_ifs(slim.graph):
        slim = onnxslim.slim(slim)
    kept = {i.name for i in slim.graph.input}
    for graph_input in inputs:  # an input nothing reads any more (a fixed value) stays an argument of every route
        if graph_input.name not in kept:
            slim.graph.input.append(graph_input)
    order = {name: index for index, name in enumerate(names)}
    ordered = sorted(slim.graph.input, key=lambda i: order.get(i.name, len(order)))
    del slim.graph.input[:]
    slim.graph.input.extend(ordered)
    return slim


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


def _static_slice(graph_module: torch.fx.GraphModule, node, slice_module) -> None:
    """onnx2torch's Slice reads its bounds from tensors (with ``.numpy()``, which torch.export cannot trace);
    stored bounds become plain indexing."""
    import operator

    from onnx2torch.node_converters.slice import _get_slices

    arguments = (list(node.args) + [None] * 5)[:5]
    for index, name in enumerate(("starts", "ends", "axes", "steps"), start=1):
        arguments[index] = node.kwargs.get(name, arguments[index])
    data, bounds = arguments[0], arguments[1:]
    values = [None if b is None else _constant(graph_module, b) for b in bounds]
    if any(v is None for b, v in zip(bounds, values) if b is not None) or values[0] is None or values[1] is None:
        return
    starts, ends = ([int(d) for d in v.reshape(-1).tolist()] for v in values[:2])
    axes = None if values[2] is None else values[2].reshape(-1).to(torch.int64)
    steps = None if values[3] is None else values[3].reshape(-1).to(torch.int64)
    flip_dims, positive, negative = _get_slices(starts, ends, axes, steps)
    with graph_module.graph.inserting_before(node):
        value = data
        if flip_dims:
            value = graph_module.graph.call_function(torch.flip, (value,), {"dims": [int(d) for d in flip_dims]})
        for indices in (positive, negative):
            if indices:
                value = graph_module.graph.call_function(operator.getitem, (value, tuple(
                    i if i is Ellipsis else slice(*(None if x is None else int(x) for x in (i.start, i.stop, i.step)))
                    for i in indices)))
    node.replace_all_uses_with(value)
    graph_module.graph.erase_node(node)


def _static_gather(graph_module: torch.fx.GraphModule, node, gather) -> None:
    """onnx2torch's Gather indexes with a tensor of indices, a data-dependent read for torch.export (a negative
    index, as ``y[:, -1]`` exports, stops it); stored indices become plain indexing."""
    import operator

    data, indices = node.args[0], node.args[1]
    value = _constant(graph_module, indices)
    axis = gather._axis
    if value is None or axis < 0:
        return
    if value.dim() == 0:
        _replace(graph_module, node, torch.select, (data, axis, int(value)))
    else:
        _replace(graph_module, node, operator.getitem, (data, (*[slice(None)] * axis, value.to(torch.int64).tolist())))


def _static_shapes(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """onnx2torch's Reshape, Resize, Pad, Slice and Gather read their shape, scales, pads, bounds or indices from a
    tensor and branch on its
    values, which torch.export (ExecuTorch, litert-torch) cannot trace (it stops on a data-dependent guard, or
    loses itself in symbolic shapes). Where that tensor is a constant of the graph, the call becomes the plain
    PyTorch function with the values written in."""
    from onnx2torch.node_converters.pad import OnnxPadDynamic
    from onnx2torch.node_converters.reshape import OnnxReshape
    from onnx2torch.node_converters.resize import OnnxResize
    from onnx2torch.node_converters.gather import OnnxGather
    from onnx2torch.node_converters.slice import OnnxSlice

    rewrites = {OnnxReshape: _static_reshape, OnnxResize: _static_resize, OnnxPadDynamic: _static_pad,
                OnnxSlice: _static_slice, OnnxGather: _static_gather}
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
    interest) would still be program inputs; ExecuTorch refuses an empty one ("0 in strides"). Only the graph's own
    constants (onnx2torch keeps them in ``initializers``) are dropped: a layer's buffers are its own (an
    InstanceNorm's absent running statistics, Range's device buffer), and it reads them by attribute."""
    used = {node.target for node in graph_module.graph.nodes if node.op == "get_attr"}
    constants = getattr(graph_module, "initializers", None)
    if constants is None:
        return
    for name in list(constants._buffers):
        if f"initializers.{name}" not in used:
            del constants._buffers[name]


def module(model: ModelSpec, onnx_path: Path) -> torch.nn.Module:
    """The ONNX file as a PyTorch module; a node no converter takes stops it with a line naming every such node."""
    from onnx2torch import convert

    graph_model = prepared(onnx_path, model)
    missing = unconvertible(graph_model)
    if missing:
        raise NotImplementedError(f"onnx2torch cannot convert {len(missing)} node(s): {'; '.join(missing[:3])}"
                                  + (f"; and {len(missing) - 3} more" if len(missing) > 3 else ""))
    return _static_shapes(convert(graph_model)).eval()


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
