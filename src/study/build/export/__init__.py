"""Artifact formats and the exporters that produce them from a model's source weights.

Each format maps a source framework to the one file that exports it (``export(model, weights,
destination, batch) -> dict``); adding a format or a framework's route to it = one file + one line.
The source formats (``torch`` state_dict, ``keras`` file) hold the model's weights as built; every
other exporter starts from them, so all targets of a model share identical weights.
A format with ``static_batch`` bakes the batch size into the graph (litert-torch's reshapes are fixed,
ExecuTorch programs are static), so it gets one artifact per batch size instead of a resize at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# framework -> its source format; a user's model file is its own source
SOURCE_FORMATS = {"torch": "torch", "keras": "keras", "onnx": "onnx", "tflite": "tflite", "executorch": "executorch"}


@dataclass(frozen=True)
class Format:
    extension: str                 # "" for a directory artifact
    exporters: dict[str, str]      # source framework -> "module:function"
    packages: tuple[str, ...]      # distributions whose versions identify the converters
    precision: str = "fp32"
    static_batch: bool = False
    description: str = field(default="", compare=False)

    def exporter_for(self, framework: str) -> str | None:
        return self.exporters.get(framework)


FORMATS: dict[str, Format] = {
    "torch": Format(".pt", {"torch": "study.build.export.torch_state:export", "onnx": "study.build.export.onnx_torch:export",
                            "tflite": "study.build.export.onnx_torch:export"},
                    ("torch", "torchvision", "onnx2torch", "onnxslim", "tf2onnx"),
                    description="PyTorch state_dict (the source weights, or an ONNX or TFLite file's through onnx2torch)"),
    "keras": Format(".keras", {"keras": "study.build.export.keras_source:export"}, ("tensorflow-cpu", "keras"),
                    description="Keras v3 file (the source weights)"),
    # an ONNX file reaches the PyTorch routes through onnx2torch (torch_state.load_source converts it), a TFLite
    # file through tf2onnx and then onnx2torch
    "torchscript": Format(".ptl", {"torch": "study.build.export.torchscript:export", "onnx": "study.build.export.torchscript:export",
                                   "tflite": "study.build.export.torchscript:export"},
                          ("torch", "onnx2torch", "onnxslim"),
                          description="TorchScript for the lite interpreter (PyTorch Mobile)"),
    "executorch": Format(".pte", {"torch": "study.build.export.executorch:export",
                                  "onnx": "study.build.export.executorch:export", "tflite": "study.build.export.executorch:export",
                                  "executorch": "study.build.export.model_file:export"},
                         ("torch", "executorch", "torchao", "onnx2torch", "onnxslim"),
                         static_batch=True, description="ExecuTorch program lowered to XNNPACK"),
    "onnx": Format(".onnx", {"torch": "study.build.export.onnx:export", "keras": "study.build.export.keras_onnx:export",
                             "tflite": "study.build.export.tflite_onnx:export", "onnx": "study.build.export.model_file:export"},
                   ("torch", "onnx", "onnxscript", "tensorflow-cpu", "tf2onnx"), description="ONNX"),
    "tflite": Format(".tflite", {"torch": "study.build.export.tflite:export", "keras": "study.build.export.keras_tflite:export",
                                 "onnx": "study.build.export.tflite:export", "tflite": "study.build.export.model_file:export"},
                     ("torch", "litert-torch", "tensorflow-cpu", "onnx2torch"), static_batch=True,
                     description="TFLite flatbuffer"),
    "savedmodel": Format("", {"keras": "study.build.export.keras_savedmodel:export"}, ("tensorflow-cpu", "keras"),
                         description="TensorFlow SavedModel"),
}


def conversion_targets() -> list[str]:
    """Every format some framework converts to (not only its own source): the columns of the conversion matrix."""
    return [name for name, fmt in FORMATS.items() if any(framework != name for framework in fmt.exporters)]
