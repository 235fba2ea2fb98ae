"""ONNX GRU -> torch.nn.GRU (both directions, either layout; linear_before_reset=1, as torch.onnx writes it)."""

from study.build.export.onnx_ops.recurrent import register

register("GRU")
