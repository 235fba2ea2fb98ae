"""TFLite file -> ONNX with tf2onnx, which reads the flatbuffer directly: the route that takes a user's
``.tflite`` model into ONNX Runtime (the layout, NHWC, is kept)."""

from __future__ import annotations

from pathlib import Path

from study.build.models.spec import ModelSpec

OPSET = 17


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    import onnx
    import tf2onnx

    proto, _ = tf2onnx.convert.from_tflite(str(weights), opset=OPSET)
    onnx.save_model(proto, str(destination), save_as_external_data=False)
    onnx.checker.check_model(str(destination))
    return {"exporter": f"tf2onnx.convert.from_tflite (opset {OPSET})"}
