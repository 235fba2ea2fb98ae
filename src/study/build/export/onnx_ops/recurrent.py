"""ONNX GRU, LSTM and RNN as PyTorch's own modules, for onnx2torch (which has no converter for any of them): the
module and the converter they share; gru.py, lstm.py and rnn.py register it for their op type.

ONNX keeps one layer per node, its weights as initializers in its own gate order and layout; PyTorch's modules take
them reordered (GRU: ONNX z, r, h -> PyTorch r, z, n; LSTM: ONNX i, o, f, c -> PyTorch i, f, g, o). The outputs keep
ONNX's layout: Y is [seq, directions, batch, hidden] (layout 0) or [batch, seq, directions, hidden] (layout 1), the
last states [directions, batch, hidden] (or batch first). What PyTorch's modules cannot express (a GRU whose linear
transform comes after the reset gate, peepholes, clipping, other activations, per-sample sequence lengths) stops
the route with the node's name and what would get past it.
"""

from __future__ import annotations

import torch
from torch import nn

from onnx2torch.node_converters.registry import add_converter
from onnx2torch.onnx_graph import OnnxGraph
from onnx2torch.onnx_node import OnnxNode
from onnx2torch.utils.common import OnnxMapping, OnnxToTorchModule, OperationConverterResult

# ONNX gate blocks, in the order PyTorch stores them
GATE_ORDER = {"GRU": (1, 0, 2), "LSTM": (0, 2, 3, 1), "RNN": (0,)}
DEFAULT_ACTIVATIONS = {"GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"], "RNN": ["Tanh"]}


class Unsupported(NotImplementedError):
    """A node this converter cannot express: the message names the node, its op type and what would get past it."""


class OnnxRecurrent(nn.Module, OnnxToTorchModule):
    def __init__(self, rnn: nn.RNNBase, reverse: bool, layout: int, outputs: int):
        super().__init__()
        self.rnn, self.reverse, self.layout, self.outputs = rnn, reverse, layout, outputs

    def forward(self, x: torch.Tensor, initial_h: torch.Tensor | None = None,
                initial_c: torch.Tensor | None = None):
        if self.layout == 1:  # [batch, seq, input] and states [batch, directions, hidden]
            x = x.transpose(0, 1)
            initial_h = None if initial_h is None else initial_h.transpose(0, 1)
            initial_c = None if initial_c is None else initial_c.transpose(0, 1)
        if self.reverse:
            x = torch.flip(x, dims=(0,))
        if isinstance(self.rnn, nn.LSTM):
            state = None if initial_h is None else (initial_h, initial_c if initial_c is not None
                                                    else torch.zeros_like(initial_h))
            y, (h, c) = self.rnn(x, state)
            states = (h, c)
        else:
            y, h = self.rnn(x, initial_h)
            states = (h,)
        if self.reverse:
            y = torch.flip(y, dims=(0,))
        directions = 2 if self.rnn.bidirectional else 1
        y = y.reshape(y.shape[0], y.shape[1], directions, self.rnn.hidden_size).permute(0, 2, 1, 3)
        if self.layout == 1:
            y = y.permute(2, 0, 1, 3)
            states = tuple(s.transpose(0, 1) for s in states)
        return (y, *states)[:self.outputs] if self.outputs > 1 else y


def _reordered(weights: torch.Tensor, kind: str, hidden: int) -> torch.Tensor:
    blocks = weights.split(hidden, dim=0)
    return torch.cat([blocks[i] for i in GATE_ORDER[kind]], dim=0)


def _constant(graph: OnnxGraph, node: OnnxNode, name: str, what: str) -> torch.Tensor:
    if name in graph.initializers:
        return graph.initializers[name].to_torch()
    raise Unsupported(f"{node.operation_type} node {node.name!r}: its {what} ({name!r}) is computed in the graph, "
                      f"not stored; only stored weights are converted (fold the graph first, e.g. with onnxslim)")


def convert(node: OnnxNode, graph: OnnxGraph) -> OperationConverterResult:
    kind, attributes = node.operation_type, node.attributes
    where = f"{kind} node {node.name!r}"
    inputs = list(node.input_values) + [""] * 8
    x, w_name, r_name, b_name, lengths, h0, c0, peepholes = inputs[:8]
    if lengths:
        raise Unsupported(f"{where}: per-sample sequence lengths (its sequence_lens input) have no PyTorch module "
                          f"here; export the model without them (every sequence at its full length)")
    if kind == "LSTM" and (peepholes or attributes.get("input_forget", 0)):
        raise Unsupported(f"{where}: peepholes and coupled input-forget gates have no PyTorch module; export a plain "
                          f"LSTM")
    if attributes.get("clip") is not None:
        raise Unsupported(f"{where}: cell clipping has no PyTorch module; export without clip")
    if kind == "GRU" and not attributes.get("linear_before_reset", 0):
        raise Unsupported(f"{where}: linear_before_reset=0 (the reset gate applied before the hidden transform) "
                          f"differs from PyTorch's GRU; export with linear_before_reset=1, as torch.onnx does")
    direction = attributes.get("direction", "forward")
    directions = 2 if direction == "bidirectional" else 1
    activations = [a if isinstance(a, str) else a.decode() for a in attributes.get("activations", [])]
    nonlinearity = "tanh"
    if kind == "RNN" and activations[:1] == ["Relu"]:
        nonlinearity, activations = "relu", []
    if activations and [a.lower() for a in activations] != [a.lower() for a in DEFAULT_ACTIVATIONS[kind] * directions]:
        raise Unsupported(f"{where}: activations {activations} differ from PyTorch's "
                          f"({DEFAULT_ACTIVATIONS[kind]}); export with the default activations")
    hidden = int(attributes["hidden_size"])
    weights = _constant(graph, node, w_name, "input weights W")
    recurrence = _constant(graph, node, r_name, "recurrence weights R")
    gates = len(GATE_ORDER[kind])
    bias = (_constant(graph, node, b_name, "biases B") if b_name
            else torch.zeros(directions, 2 * gates * hidden, dtype=weights.dtype))
    module_class = {"GRU": nn.GRU, "LSTM": nn.LSTM, "RNN": nn.RNN}[kind]
    options = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
    rnn = module_class(input_size=weights.shape[-1], hidden_size=hidden, bidirectional=directions == 2, **options)
    with torch.no_grad():
        for index in range(directions):
            suffix = "_l0" + ("_reverse" if index == 1 else "")
            getattr(rnn, "weight_ih" + suffix).copy_(_reordered(weights[index], kind, hidden))
            getattr(rnn, "weight_hh" + suffix).copy_(_reordered(recurrence[index], kind, hidden))
            input_bias, recurrent_bias = bias[index].split(gates * hidden)
            getattr(rnn, "bias_ih" + suffix).copy_(_reordered(input_bias, kind, hidden))
            getattr(rnn, "bias_hh" + suffix).copy_(_reordered(recurrent_bias, kind, hidden))
    module = OnnxRecurrent(rnn.eval(), reverse=direction == "reverse", layout=int(attributes.get("layout", 0)),
                           outputs=len(node.output_values))
    state_inputs = (h0, c0) if kind == "LSTM" else (h0,)
    return OperationConverterResult(torch_module=module,
                                    onnx_mapping=OnnxMapping(inputs=(x, *state_inputs), outputs=node.output_values))


def register(op_type: str) -> None:
    for version in (7, 14):  # 14 added the batch-first layout
        add_converter(operation_type=op_type, version=version)(convert)
