"""ONNX Range, replacing onnx2torch's: its module computes the range from tensors with ``.item()`` on a buffer's
device, which torch.export (ExecuTorch, litert-torch) cannot trace, and which broke once the buffer was pruned.
Where start, limit and delta are stored constants the range is computed once and stored; otherwise it is computed
at run time (eager and TorchScript run it; torch.export stops on the data-dependent size, and the route's line says
so)."""

from __future__ import annotations

import torch
from torch import nn

from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult, onnx_mapping_from_node


class StoredRange(nn.Module, OnnxToTorchModule):
    def __init__(self, values: torch.Tensor):
        super().__init__()
        self.register_buffer("values", values)

    def forward(self) -> torch.Tensor:
        return self.values


class ComputedRange(nn.Module, OnnxToTorchModule):
    def forward(self, start, limit, delta) -> torch.Tensor:
        dtype = start.dtype if isinstance(start, torch.Tensor) else None
        scalars = [v.item() if isinstance(v, torch.Tensor) else v for v in (start, limit, delta)]
        return torch.arange(*scalars, dtype=dtype)


def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    names = node.input_values
    if all(name in graph.initializers for name in names):
        start, limit, delta = (graph.initializers[name].to_torch() for name in names)
        values = torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype)
        return OperationConverterResult(torch_module=StoredRange(values),
                                        onnx_mapping=OnnxMapping(inputs=(), outputs=node.output_values))
    return OperationConverterResult(torch_module=ComputedRange(), onnx_mapping=onnx_mapping_from_node(node))


# onnx2torch registers its own Range at import; this one takes its place (add_converter refuses a second one)
_CONVERTER_REGISTRY[OperationDescription(domain="", operation_type="Range", version=11)] = convert
