"""Inference runtimes. Adding one = one file in this folder with a ``Backend`` subclass + one line here.

The registry names, for each runtime, the artifact format it runs and the distributions whose
versions identify it; nothing here imports a framework, so a worker imports only the one it measures.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeEntry:
    backend: str                 # "module:Class" of the Backend subclass
    artifact_format: str         # a key of study.export.FORMATS
    packages: tuple[str, ...]    # distributions whose versions identify the runtime


RUNTIMES: dict[str, RuntimeEntry] = {
    "torch_eager": RuntimeEntry("study.runtimes.torch_eager:TorchEager", "torch", ("torch", "torchvision")),
    "onnxruntime": RuntimeEntry("study.runtimes.onnxruntime:OnnxRuntime", "onnx", ("onnxruntime",)),
    "litert": RuntimeEntry("study.runtimes.litert:LiteRT", "tflite", ("ai-edge-litert",)),
    "torchscript_lite": RuntimeEntry("study.runtimes.torchscript_lite:TorchScriptLite", "torchscript", ("torch",)),
    "executorch": RuntimeEntry("study.runtimes.executorch:ExecuTorch", "executorch", ("executorch", "torch")),
    "tensorflow": RuntimeEntry("study.runtimes.tensorflow:TensorFlow", "savedmodel", ("tensorflow-cpu",)),
}


def runtime_for_format(fmt: str) -> str | None:
    """The runtime that runs artifacts of ``fmt`` (used to validate each conversion)."""
    return next((name for name, entry in RUNTIMES.items() if entry.artifact_format == fmt), None)
