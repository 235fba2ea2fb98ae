"""ONNX RNN -> torch.nn.RNN (tanh or relu, both directions, either layout)."""

from study.build.export.onnx_ops.recurrent import register

register("RNN")
