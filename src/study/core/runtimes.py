"""Inference runtimes, one description each. Adding one = one file in ``study/measure/runtimes/`` with a ``Backend``
subclass + one line here.

The registry names, for each runtime, its backend, the artifact format it runs, the distributions whose versions
identify it, and how the report names and colours it; nothing here imports a framework, so a worker imports only
the one it measures. The quantizers that make a runtime's variants name their runtime themselves
(``study.build.quant.quantizers``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeEntry:
    backend: str                 # "module:Class" of the Backend subclass
    artifact_format: str         # a key of study.build.export.FORMATS
    packages: tuple[str, ...]    # distributions whose versions identify the runtime
    label: str                   # its name in tables, figures and sentences
    colour: str | None = None    # its colour in the figures that colour runtimes (black where none is set)


RUNTIMES: dict[str, RuntimeEntry] = {
    "torch_eager": RuntimeEntry("study.measure.runtimes.torch_eager:TorchEager", "torch", ("torch", "torchvision"),
                                "PyTorch eager", "#ee4c2c"),
    "onnxruntime": RuntimeEntry("study.measure.runtimes.onnxruntime:OnnxRuntime", "onnx", ("onnxruntime",),
                                "ONNX Runtime", "#1f6feb"),
    "litert": RuntimeEntry("study.measure.runtimes.litert:LiteRT", "tflite", ("ai-edge-litert",), "LiteRT (TFLite)",
                           "#ff8f00"),
    "torchscript_lite": RuntimeEntry("study.measure.runtimes.torchscript_lite:TorchScriptLite", "torchscript",
                                     ("torch",), "TorchScript lite", "#8e24aa"),
    "executorch": RuntimeEntry("study.measure.runtimes.executorch:ExecuTorch", "executorch", ("executorch", "torch"),
                               "ExecuTorch", "#00897b"),
    "tensorflow": RuntimeEntry("study.measure.runtimes.tensorflow:TensorFlow", "savedmodel", ("tensorflow-cpu",),
                               "TensorFlow", "#6d4c41"),
}


def runtime_for_format(fmt: str) -> str | None:
    """The runtime that runs artifacts of ``fmt`` (used to validate each conversion)."""
    return next((name for name, entry in RUNTIMES.items() if entry.artifact_format == fmt), None)
