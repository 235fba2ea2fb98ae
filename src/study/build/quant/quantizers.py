"""Every quantized variant the study makes, each beside its fp32 twin from the same trained weights.

A variant is (runtime, scheme): the runtime runs it, and its fp32 twin is the same runtime's ``fp32``
variant, so a difference is the quantizer's alone. ``VARIANTS`` is the registry; a variant's maker
takes the trained model, the dataset's calibration images (NCHW) and a destination path.

- LiteRT (TFLiteConverter, Keras source): fp32, float16, dynamic-range int8, full int8 calibrated on a
  representative dataset (float input and output kept).
- ONNX Runtime (torch.onnx / tf2onnx, then onnxruntime.quantization after its pre-processing): fp32, dynamic int8
  (weights uint8, activations quantized at run time), static QDQ int8 calibrated per tensor and per channel.
- ExecuTorch (PyTorch source): fp32 lowered to XNNPACK, and PT2E with the XNNPACK quantizer (symmetric,
  per channel, calibrated) lowered to XNNPACK.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Variant:
    runtime: str
    scheme: str
    precision: str               # fp32, fp16, int8
    frameworks: tuple[str, ...]  # source frameworks it applies to
    suffix: str
    make: Callable
    description: str
    reads_fp32: bool = False     # its quantizer reads the fp32 twin's file, which must sit beside the destination

    @property
    def fp32_file(self) -> str:
        return f"{self.runtime}-fp32{self.suffix}"

    @property
    def key(self) -> str:
        return f"{self.runtime}/{self.scheme}"

    @property
    def twin(self) -> str:
        return f"{self.runtime}/fp32"


def nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


# --- LiteRT -------------------------------------------------------------------------------------

def _tflite(model, calibration, destination: Path, options: str) -> None:
    import keras
    import tensorflow as tf

    fixed = keras.Input(batch_shape=(1, *model.input_shape[1:]), dtype="float32")
    wrapper = keras.Model(fixed, model(fixed, training=False))
    converter = tf.lite.TFLiteConverter.from_keras_model(wrapper)
    if options != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if options == "int8":
        images = nhwc(calibration)
        converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(len(images)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    destination.write_bytes(converter.convert())


# --- ONNX Runtime -------------------------------------------------------------------------------

def _onnx_fp32(model, destination: Path, sample_shape: tuple[int, ...]) -> None:
    import onnx

    try:
        import torch

        is_torch = isinstance(model, torch.nn.Module)
    except ImportError:
        is_torch = False
    if is_torch:
        example = (torch.zeros(1, *sample_shape),)
        torch.onnx.export(model, example, str(destination), dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17)
    else:
        import tensorflow as tf
        import tf2onnx

        signature = (tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="input"),)
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=17, output_path=str(destination))
    onnx.checker.check_model(str(destination))


QDQ_MIN_OPSET = 13  # per-channel DequantizeLinear (its axis attribute) needs opset 13


def _pre_processed(fp32: Path) -> Path:
    """The fp32 file after ONNX Runtime's quantization pre-processing (shape inference, then its graph optimiser:
    constants folded into initializers, Conv and BatchNorm fused), as its documentation asks before quantizing, at
    opset 13 at least (per-channel QDQ). Without it, a graph that stores its weights in Constant nodes (Paddle's
    exporter) is left unquantized and grows: PP-OCRv4 det's QDQ file was 5% larger than the fp32 file, 1.5 MB of
    4.7 after; and PP-OCR's opset 11 and 12 files got per-channel nodes their opset does not have. Made once."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    done = fp32.with_name(fp32.stem + ".pre.onnx")
    if done.exists() and done.stat().st_mtime >= fp32.stat().st_mtime:
        return done
    graph_model = onnx.load(str(fp32))
    opset = next((o.version for o in graph_model.opset_import if o.domain in ("", "ai.onnx")), QDQ_MIN_OPSET)
    source = fp32
    if opset < QDQ_MIN_OPSET:
        source = fp32.with_name(fp32.stem + f".opset{QDQ_MIN_OPSET}.onnx")
        onnx.save(version_converter.convert_version(graph_model, QDQ_MIN_OPSET), str(source))
    # its symbolic shape inference leaves sym_shape_infer_temp.onnx in the working directory when it fails: run it
    # in a throw-away one, so nothing lands in the checkout
    with tempfile.TemporaryDirectory(prefix="ort-pre-process-") as scratch, contextlib.chdir(scratch):
        try:
            quant_pre_process(str(source.resolve()), str(done.resolve()))
        except Exception:  # its symbolic shape inference asserts on some graphs (Paddle's Concat): ONNX's alone
            quant_pre_process(str(source.resolve()), str(done.resolve()), skip_symbolic_shape=True)
    return done


def _ort_static(fp32: Path, calibration: np.ndarray, destination: Path, per_channel: bool, layout: str) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_static)

    fp32 = _pre_processed(fp32)

    images = calibration if layout == "nchw" else nhwc(calibration)
    import onnx

    name = onnx.load(str(fp32)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: images[i:i + 1]} for i in range(len(images))])

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(fp32), str(destination), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)


def _ort_dynamic(fp32: Path, destination: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # uint8 weights: ONNX Runtime's ConvInteger kernel has no int8-weight implementation on the CPU
    quantize_dynamic(str(_pre_processed(fp32)), str(destination), weight_type=QuantType.QUInt8)


# --- ExecuTorch -----------------------------------------------------------------------------------

def _executorch(model, calibration, destination: Path, quantize: bool) -> None:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = (torch.from_numpy(calibration[:1]),)
    if quantize:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                             get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        captured = torch.export.export(model, example).module()
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(captured, quantizer)
        with torch.no_grad():
            for i in range(len(calibration)):
                prepared(torch.from_numpy(calibration[i:i + 1]))
        model = convert_pt2e(prepared)
    program = to_edge_transform_and_lower(torch.export.export(model, example),
                                          partitioner=[XnnpackPartitioner()]).to_executorch()
    destination.write_bytes(program.buffer)


# --- LiteRT from a PyTorch model: litert-torch, then ai-edge-quantizer on the .tflite file -------------------

def _litert_torch(model, calibration, destination: Path, recipe_name: str) -> None:
    """fp32 through litert-torch; the quantized variants through ai-edge-quantizer's recipes on that file."""
    if recipe_name == "fp32":
        import litert_torch
        import torch

        litert_torch.convert(model.eval(), (torch.from_numpy(calibration[:1]),)).export(str(destination))
        return
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    fp32 = destination.with_name("litert-fp32.tflite")
    engine = quantizer.Quantizer(str(fp32))
    if recipe_name == "fp16":
        # ai-edge-quantizer has no named float16 recipe; its float-casting algorithm stores float16 weights and
        # dequantizes them in the graph, as TFLiteConverter's float16 option does
        manager = recipe_manager.RecipeManager()
        manager.add_weight_only_config(regex=".*", operation_name=recipe.TFLOperationName.ALL_SUPPORTED, num_bits=16,
                                       algorithm_key=AlgorithmName.FLOAT_CASTING)
        engine.load_quantization_recipe(manager.get_quantization_recipe())
    else:
        engine.load_quantization_recipe(getattr(recipe, recipe_name)())
    result = None
    if recipe_name.startswith("static"):
        signatures = Interpreter(model_path=str(fp32)).get_signature_list()
        key = next(iter(signatures))
        name = signatures[key]["inputs"][0]
        samples = [{name: calibration[i:i + 1]} for i in range(len(calibration))]
        result = engine.calibrate({key: samples}, num_threads=1)
    engine.quantize(result, enable_progress_bar=False, enable_progress_report=False).export_model(
        str(destination), overwrite=True)


TORCH_LITERT: dict[str, Variant] = {v.key: v for v in [  # the zoo's PyTorch models into LiteRT (issue: full size)
    Variant("litert", "fp32", "fp32", ("torch",), ".tflite", lambda m, c, d: _litert_torch(m, c, d, "fp32"),
            "litert-torch convert"),
    Variant("litert", "fp16", "fp16", ("torch",), ".tflite", lambda m, c, d: _litert_torch(m, c, d, "fp16"),
            "ai-edge-quantizer float casting (float16 weights) on the litert-torch file", reads_fp32=True),
    Variant("litert", "dynamic-int8", "int8", ("torch",), ".tflite",
            lambda m, c, d: _litert_torch(m, c, d, "dynamic_wi8_afp32"),
            "ai-edge-quantizer dynamic_wi8_afp32 on the litert-torch file", reads_fp32=True),
    Variant("litert", "int8", "int8", ("torch",), ".tflite", lambda m, c, d: _litert_torch(m, c, d, "static_wi8_ai8"),
            "ai-edge-quantizer static_wi8_ai8 (calibrated) on the litert-torch file", reads_fp32=True),
]}


def _fp32_onnx_of(destination: Path) -> Path:
    return destination.with_name("onnxruntime-fp32.onnx")


VARIANTS: dict[str, Variant] = {v.key: v for v in [
    Variant("litert", "fp32", "fp32", ("keras",), ".tflite", lambda m, c, d: _tflite(m, c, d, "fp32"),
            "TFLiteConverter, no optimisation"),
    Variant("litert", "fp16", "fp16", ("keras",), ".tflite", lambda m, c, d: _tflite(m, c, d, "fp16"),
            "TFLiteConverter float16 weights"),
    Variant("litert", "dynamic-int8", "int8", ("keras",), ".tflite", lambda m, c, d: _tflite(m, c, d, "dynamic"),
            "TFLiteConverter dynamic-range: int8 weights, float activations"),
    Variant("litert", "int8", "int8", ("keras",), ".tflite", lambda m, c, d: _tflite(m, c, d, "int8"),
            "TFLiteConverter full integer, representative dataset"),
    Variant("onnxruntime", "fp32", "fp32", ("torch", "keras"), ".onnx",
            lambda m, c, d: _onnx_fp32(m, d, c.shape[1:]), "torch.onnx (TorchScript exporter) / tf2onnx"),
    Variant("onnxruntime", "dynamic-int8", "int8", ("torch", "keras"), ".onnx",
            lambda m, c, d: _ort_dynamic(_fp32_onnx_of(d), d), "quantize_dynamic, uint8 weights", reads_fp32=True),
    Variant("onnxruntime", "qdq-int8-tensor", "int8", ("torch", "keras"), ".onnx",
            lambda m, c, d: _ort_static(_fp32_onnx_of(d), c, d, False, _layout(m)),
            "quantize_static QDQ, per-tensor weights, MinMax calibration", reads_fp32=True),
    Variant("onnxruntime", "qdq-int8-channel", "int8", ("torch", "keras"), ".onnx",
            lambda m, c, d: _ort_static(_fp32_onnx_of(d), c, d, True, _layout(m)),
            "quantize_static QDQ, per-channel weights, MinMax calibration", reads_fp32=True),
    Variant("executorch", "fp32", "fp32", ("torch",), ".pte", lambda m, c, d: _executorch(m, c, d, False),
            "torch.export, XNNPACK delegate"),
    Variant("executorch", "pt2e-int8", "int8", ("torch",), ".pte", lambda m, c, d: _executorch(m, c, d, True),
            "PT2E XNNPACKQuantizer (symmetric, per channel), XNNPACK delegate"),
]}


def _layout(model) -> str:
    try:
        import torch

        return "nchw" if isinstance(model, torch.nn.Module) else "nhwc"
    except ImportError:
        return "nhwc"


def variants_for(framework: str, litert_from_torch: bool = False) -> list[Variant]:
    """Every variant that applies, fp32 twins first (quantizers of ONNX Runtime and ai-edge-quantizer read the fp32
    file); a PyTorch model reaches LiteRT too when asked (litert-torch conversion costs tens of seconds)."""
    found = [v for v in VARIANTS.values() if framework in v.frameworks]
    if framework == "torch" and litert_from_torch:
        found += TORCH_LITERT.values()
    return sorted(found, key=lambda v: v.scheme != "fp32")


def calibrated(variant: Variant) -> bool:
    """Whether the variant's quantizer reads the calibration set (static int8: its activation ranges come from it)."""
    return variant.precision == "int8" and "dynamic" not in variant.scheme
