"""Converters onnx2torch lacks, registered in its own registry (``onnx2torch.node_converters.registry``) when this
package is imported: adding one = one file here + one line in ``CONVERTERS``. ``onnx_torch.module`` imports it
before every conversion."""

from __future__ import annotations

import importlib

CONVERTERS = ["gru", "lstm", "rnn", "range", "instance_norm"]

for _name in CONVERTERS:
    importlib.import_module(f"{__name__}.{_name}")
