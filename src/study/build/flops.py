"""FLOPs per inference, counted once per model on its fp32 ONNX graph, the same way for every framework.

Counted: 2 x the multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul and LSTM nodes, with shapes from
ONNX shape inference at batch 1 (symbolic dimensions taken as 1). Not counted: element-wise operations,
pooling, normalisation, softmax: a few percent of a CNN's work, so the achieved GFLOP/s is a slight
underestimate, the same for every runtime. Nodes inside control-flow subgraphs (Loop, Scan: how recurrent
layers may be exported) are not visited, so sequence models are undercounted; read their % of peak loosely.

Bytes per inference, for the roofline's arithmetic intensity (FLOPs / bytes): every weight read once, and every
activation written once by the node that makes it and read once by each node that uses it, at batch 1. That is
the traffic of a runtime that keeps nothing in cache between layers; fusing layers or keeping small activations
in cache moves less, so a case can run above the memory roof its intensity gives (the figure says so).
"""

from __future__ import annotations

from math import prod
from pathlib import Path


def _dims(value_info) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else 1 for d in value_info.type.tensor_type.shape.dim]


def model_flops(model: str) -> int | None:
    """FLOPs of one inference at batch 1, from the model's ONNX artifact; cached beside it. None without one."""
    costs = model_costs(model)
    return costs["flops"] if costs else None


COSTS_VERSION = 2


def model_costs(model: str) -> dict | None:
    """FLOPs and bytes moved per inference at batch 1 (``onnx_costs``), cached beside the ONNX artifact."""
    import json

    from study.build.convert import ensure_artifact
    from study.core.fsutil import write_json_atomic

    artifact = ensure_artifact(model, "onnx", log=lambda message: None)
    if not artifact.ok:
        return None
    cache = artifact.path.with_name("flops.json")
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("sha256") == artifact.record.get("sha256") and cached.get("version") == COSTS_VERSION:
            return {"flops": cached["flops"], "bytes": cached["bytes"]}
    costs = onnx_costs(artifact.path)
    write_json_atomic(cache, {"sha256": artifact.record.get("sha256"), "version": COSTS_VERSION, **costs})
    return costs


ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # onnx dtypes


def _elem_type(value_info) -> int:
    return value_info.type.tensor_type.elem_type


def onnx_costs(path: Path) -> dict:
    """FLOPs (``onnx_flops``) and bytes moved (see the module's note) of one inference at batch 1."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    activations = {v.name: prod(_dims(v)) * ELEMENT_BYTES.get(_elem_type(v), 4)
                   for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    weights = {t.name: prod(t.dims) * ELEMENT_BYTES.get(t.data_type, 4) for t in graph.initializer}
    weights.update({n.output[0]: 0 for n in graph.node if n.op_type == "Constant"})  # tiny, folded by runtimes
    moved = sum(weights.values())
    for node in graph.node:
        for name in list(node.input) + list(node.output):
            if name and name not in weights:
                moved += activations.get(name, 0)
    return {"flops": onnx_flops(path, model), "bytes": int(moved)}


def onnx_flops(path: Path, model=None) -> int:
    import onnx

    model = model or onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    shapes = {v.name: _dims(v) for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    macs = 0
    for node in graph.node:
        inputs = [shapes.get(name) for name in node.input]
        output = shapes.get(node.output[0]) if node.output else None
        if node.op_type in ("Conv", "ConvTranspose") and inputs[1] and output:
            weight = inputs[1]  # [out_channels, in_channels / groups, *kernel]
            per_output = prod(weight[1:]) if node.op_type == "Conv" else weight[0] * prod(weight[2:]) // max(1, output[1])
            macs += prod(output) * per_output
        elif node.op_type in ("Gemm", "MatMul") and inputs[0] and output:
            macs += prod(output) * inputs[0][-1]
        elif node.op_type == "LSTM" and inputs[0] and inputs[2]:
            steps, batch, features = inputs[0]
            directions, gates_hidden, hidden = inputs[2]  # R: [directions, 4*hidden, hidden]
            macs += steps * batch * directions * gates_hidden * (features + hidden)
    return 2 * macs


ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
               11: "float64", 16: "bfloat16"}


def model_card(model: str) -> dict:
    """What ``study compare`` says of a model before it measures: inputs and outputs (name, shape, dtype),
    parameters and FLOPs, read from its ONNX artifact; empty where it has none."""
    import onnx

    from study.build.convert import ensure_artifact

    artifact = ensure_artifact(model, "onnx", log=lambda message: None)
    if not artifact.ok:
        return {}
    graph = onnx.load(str(artifact.path), load_external_data=False).graph
    weights = {t.name for t in graph.initializer}

    def tensors(values):
        return [{"name": v.name, "dtype": ONNX_DTYPES.get(_elem_type(v), str(_elem_type(v))),
                 "shape": [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                           for d in v.type.tensor_type.shape.dim]} for v in values if v.name not in weights]

    costs = model_costs(model) or {}
    return {"inputs": tensors(graph.input), "outputs": tensors(graph.output),
            "parameters": int(sum(prod(t.dims) for t in graph.initializer)), "flops": costs.get("flops")}
