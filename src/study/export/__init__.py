"""Artifact formats and the exporters that produce them from a model's source weights.

Adding a format = one file in this folder with ``export(model, weights, destination, batch) -> dict`` +
one line in ``FORMATS``. A format with ``static_batch`` bakes the batch size into the graph (litert-torch
does: its reshapes are fixed), so it gets one artifact per batch size instead of a resize at load time. The ``torch`` format is the source itself: the seeded weights as a state_dict,
which every other exporter starts from, so all variants of a model share identical weights.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_FORMAT = "torch"


@dataclass(frozen=True)
class Format:
    extension: str
    exporter: str                # "module:function"
    packages: tuple[str, ...]    # distributions whose versions identify the converter
    precision: str = "fp32"
    static_batch: bool = False

    @property
    def variant(self) -> str:
        return self.precision


FORMATS: dict[str, Format] = {
    "torch": Format(".pt", "study.export.torch_state:export", ("torch", "torchvision")),
    "onnx": Format(".onnx", "study.export.onnx:export", ("torch", "onnx", "onnxscript")),
    "tflite": Format(".tflite", "study.export.tflite:export", ("torch", "litert-torch"), static_batch=True),
}
