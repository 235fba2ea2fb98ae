"""ONNX InstanceNormalization as plain arithmetic, replacing onnx2torch's: each sample's channels are normalised
over their spatial positions, then scaled and shifted per channel. onnx2torch's module is PyTorch's InstanceNorm,
whose absent running statistics are attributes a pruned graph loses (the route then failed with "'InstanceNorm1d'
object has no attribute 'running_mean'") and whose F.instance_norm reaches torch.export (ExecuTorch, litert-torch)
as a composite; a mean, a variance and a multiply-add are lowered by every route."""

from __future__ import annotations

import torch
from torch import nn

from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult, onnx_mapping_from_node


def _normalised(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, epsilon: float) -> torch.Tensor:
    spatial = tuple(range(2, x.dim()))
    centred = x - x.mean(dim=spatial, keepdim=True)
    variance = (centred * centred).mean(dim=spatial, keepdim=True)
    shape = (1, -1) + (1,) * len(spatial)
    return centred * torch.rsqrt(variance + epsilon) * scale.reshape(shape) + bias.reshape(shape)


class StoredInstanceNorm(nn.Module, OnnxToTorchModule):
    """Scale and bias stored in the file (the usual case): kept as the module's own tensors."""

    def __init__(self, scale: torch.Tensor, bias: torch.Tensor, epsilon: float):
        super().__init__()
        self.scale, self.bias, self.epsilon = nn.Parameter(scale), nn.Parameter(bias), epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _normalised(x, self.scale, self.bias, self.epsilon)


class ComputedInstanceNorm(nn.Module, OnnxToTorchModule):
    """Scale and bias computed in the graph: taken as inputs."""

    def __init__(self, epsilon: float):
        super().__init__()
        self.epsilon = epsilon

    def forward(self, x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return _normalised(x, scale, bias, self.epsilon)


def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    epsilon = float(node.attributes.get("epsilon", 1e-5))
    x, scale, bias = node.input_values
    if scale in graph.initializers and bias in graph.initializers:
        module = StoredInstanceNorm(graph.initializers[scale].to_torch(), graph.initializers[bias].to_torch(), epsilon)
        return OperationConverterResult(torch_module=module,
                                        onnx_mapping=OnnxMapping(inputs=(x,), outputs=node.output_values))
    return OperationConverterResult(torch_module=ComputedInstanceNorm(epsilon), onnx_mapping=onnx_mapping_from_node(node))


# onnx2torch registers its own at import; this one takes its place (add_converter refuses a second one)
for _version in (1, 6):
    _CONVERTER_REGISTRY[OperationDescription(domain="", operation_type="InstanceNormalization", version=_version)] = \
        convert
