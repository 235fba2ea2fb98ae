"""PyTorch -> ExecuTorch program (.pte) lowered to the XNNPACK delegate.

The record says how much of the graph XNNPACK took: operators inside its partitions and the ones left outside,
which ExecuTorch's portable kernels run one by one (often far slower: the conversion matrix shows the share beside
parity, and a validation far slower than the source names it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge_transform_and_lower

from study.build.export.torch_state import load_source
from study.build.models.spec import ModelSpec


def _operators(graph) -> list[str]:
    return [str(node.target) for node in graph.nodes
            if node.op == "call_function" and "getitem" not in str(node.target)]


def delegation(edge) -> dict:
    """Operators inside XNNPACK's partitions and outside them (the most frequent outside ops named)."""
    module = edge.exported_program().graph_module
    inside, outside = 0, []
    for node in module.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.higher_order.executorch_call_delegate:
            inside += len(_operators(getattr(module, node.args[0].target).original_module.graph))
        elif node.op == "call_function" and "getitem" not in str(node.target):
            outside.append(str(node.target).rsplit(".", 2)[0].removeprefix("aten."))
    return {"delegated_ops": inside, "operators": inside + len(outside),
            "outside_delegate": ", ".join(f"{op} x{n}" for op, n in Counter(outside).most_common(4))}


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = load_source(model, weights)
    example = model.torch_example(batch)
    edge = to_edge_transform_and_lower(torch.export.export(module, example), partitioner=[XnnpackPartitioner()])
    taken = delegation(edge)
    destination.write_bytes(edge.to_executorch().buffer)
    share = taken["delegated_ops"] / taken["operators"] if taken["operators"] else None
    note = (f"XNNPACK took {taken['delegated_ops']} of {taken['operators']} operators"
            + (f"; outside: {taken['outside_delegate']}" if taken["outside_delegate"] else ""))
    return {"exporter": "torch.export + to_edge_transform_and_lower(XNNPACK)", "delegated_share": share,
            "note": note, **taken}
