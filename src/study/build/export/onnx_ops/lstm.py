"""ONNX LSTM -> torch.nn.LSTM (both directions, either layout; no peepholes)."""

from study.build.export.onnx_ops.recurrent import register

register("LSTM")
