"""FLOPs per inference, counted once per model on its fp32 ONNX graph, the same way for every framework.

Counted: 2 x the multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul and LSTM nodes, with shapes from
ONNX shape inference at batch 1 (symbolic dimensions taken as 1). Not counted: element-wise operations,
pooling, normalisation, softmax: a few percent of a CNN's work, so the achieved GFLOP/s is a slight
underestimate, the same for every runtime. Nodes inside control-flow subgraphs (Loop, Scan: how recurrent
layers may be exported) are not visited, so sequence models are undercounted; read their % of peak loosely.
"""

from __future__ import annotations

from math import prod
from pathlib import Path


def _dims(value_info) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else 1 for d in value_info.type.tensor_type.shape.dim]


def model_flops(model: str) -> int | None:
    """FLOPs of one inference at batch 1, from the model's ONNX artifact; cached beside it. None without one."""
    import json

    from study.convert import ensure_artifact
    from study.fsutil import write_json_atomic

    artifact = ensure_artifact(model, "onnx", log=lambda message: None)
    if not artifact.ok:
        return None
    cache = artifact.path.with_name("flops.json")
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("sha256") == artifact.record.get("sha256"):
            return cached["flops"]
    flops = onnx_flops(artifact.path)
    write_json_atomic(cache, {"sha256": artifact.record.get("sha256"), "flops": flops})
    return flops


def onnx_flops(path: Path) -> int:
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
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
