"""The zoo's full-size models (224x224) through every quantizer that applies, judged by fidelity to their fp32 twin.

The zoo's weights are seeded, so top-1 accuracy means nothing: each variant is compared with the fp32 twin of its
own runtime on the validation inputs (top-1 agreement, SQNR in dB, largest difference relative to the twin's
largest output): fidelity, not accuracy. A PyTorch zoo model goes through the PyTorch-source quantizers (ONNX
Runtime, ExecuTorch), its Keras twin through the Keras-source ones (LiteRT).

Calibration set (fixed, documented): ``CALIBRATION`` seeded standard-normal inputs (seed ``CALIBRATION_SEED``), the
distribution the zoo's batch norms were calibrated on (study.build.models.calibration), other draws than the validation
inputs (``ModelSpec.validation_inputs``: ``VALIDATION`` draws of seed 1234).

A shipped model (``study.build.models.shipped``: trained, a file) goes the same way, with what its weights allow: ONNX
Runtime's quantizers read the shipped file itself (as a user of the model would; a TFLite file through tf2onnx),
the others the PyTorch module onnx2torch makes of it; calibration on its real calibration images
(``ModelSpec.real_images``), and fidelity judged by its task (``study.build.tasks``) on its fidelity images, against the
shipped file run in its own runtime ("the fp32 file") as well as against the runtime's fp32 twin; what the file and
each variant find on the first fidelity image (boxes, a text map) is kept for the figures. Its rows carry the
dataset ``shipped``.
"""

from __future__ import annotations

import shutil
import time
import traceback
import zlib
from pathlib import Path

import numpy as np

from study.build.quant.build import first_line
from study.build.quant import SHIPPED
from study.build.quant.quantizers import nhwc, variants_for

KERAS_TWINS = {"mobilenet_v2": "keras_mobilenet_v2", "resnet18": "keras_resnet18",
               "efficientnet_b0": "keras_efficientnet_b0", "mobilenet_v3_small": "keras_mobilenet_v3_small"}
CALIBRATION, CALIBRATION_SEED, VALIDATION = 32, 7, 64
# a Keras twin goes to LiteRT only: its ONNX route would time ONNX Runtime twice on the same network
RUNTIMES_OF = {"torch": ("onnxruntime", "executorch", "litert"), "keras": ("litert",)}
DATASET = "zoo"  # the dataset column of a zoo variant: no dataset, seeded inputs


def calibration_inputs(input_shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(CALIBRATION_SEED).standard_normal((CALIBRATION, *input_shape), dtype=np.float32)


def fidelity(reference: np.ndarray, outputs: np.ndarray) -> dict:
    """A variant's outputs against its fp32 twin's on the same inputs (one row per input)."""
    reference, outputs = np.asarray(reference, np.float64), np.asarray(outputs, np.float64)
    noise = np.sum((reference - outputs) ** 2)
    signal = np.sum(reference ** 2)
    return {"top1_agreement": float(np.mean(reference.argmax(1) == outputs.argmax(1))),
            "sqnr_db": float("inf") if noise == 0 else float(10 * np.log10(signal / noise)),
            "max_rel_diff": float(np.max(np.abs(reference - outputs)) / max(np.max(np.abs(reference)), 1e-12))}


def compressed_bytes(path: Path) -> int:
    """What the file costs to download: zlib at its strongest level (app stores and OTA updates compress)."""
    return len(zlib.compress(path.read_bytes(), 9))


def _task_outputs(backend, images: np.ndarray):
    """The outputs as the model gives them (a tuple for several), one input at a time: what a task decodes."""
    from study.build.validation import run_in_chunks

    return run_in_chunks(backend.predict, images, 1)


def _rows(outputs) -> np.ndarray:
    """One row per input: every output of the model, flattened and joined (a detector has boxes and scores)."""
    parts = outputs if isinstance(outputs, tuple) else (outputs,)
    return np.concatenate([np.asarray(part, dtype=np.float32).reshape(len(part), -1) for part in parts], axis=1)


def _file_reference(spec, images: np.ndarray, threads: int):
    """The shipped file's own outputs in its own runtime: what every variant of it is judged against."""
    from study.build.export.model_file import FRAMEWORK_FORMAT
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES, runtime_for_format

    backend = resolve(RUNTIMES[runtime_for_format(FRAMEWORK_FORMAT[spec.framework])].backend)(threads=threads)
    backend.load(spec.source_file(), spec, 1)
    return _task_outputs(backend, images)


def _shipped_file_as(spec, runtime: str) -> tuple[Path, str] | None:
    """ONNX Runtime's fp32 twin of a shipped model is the shipped file itself (through tf2onnx for a TFLite file),
    and its quantizers read it: what a user of the model would quantize. LiteRT's is litert-torch's conversion of
    the module even for a TFLite file: ai-edge-quantizer calibrates through a SignatureDef, and MediaPipe's BlazeFace
    file has none."""
    if runtime != "onnxruntime":
        return None
    from study.build.export.onnx_torch import onnx_file

    return (onnx_file(spec.source_file()),
            "the shipped file itself" if spec.framework == "onnx" else "the shipped file through tf2onnx")


def zoo_variants(framework: str) -> list:
    """The variants of one source model: its framework's quantizers, plus LiteRT from a PyTorch model's file."""
    return [v for v in variants_for(framework, litert_from_torch=True) if v.runtime in RUNTIMES_OF[framework]]


def sources(model: str) -> list[str]:
    """The zoo model and its Keras twin, each the source of the quantizers of its framework."""
    twin = KERAS_TWINS.get(model)
    return [model, twin] if twin else [model]


def build(model: str, directory: Path, threads: int, log=print, runtimes: tuple[str, ...] | None = None) -> dict:
    """Every variant of one zoo model (and its Keras twin) or shipped model: the file, its size, its fidelity, or
    its error; for a shipped model with a picture, what each variant finds on it (boxes, a text map).
    ``runtimes`` limits the variants to those runtimes' (a test's shortcut)."""
    from study.build.convert import model_spec
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES

    record = {"dataset": DATASET, "model": model, "calibration": f"{CALIBRATION} seeded standard-normal inputs "
              f"(seed {CALIBRATION_SEED})", "validation": f"{VALIDATION} seeded inputs (seed 1234)",
              "sources": {}, "variants": {}}
    for source in sources(model):
        spec, error = model_spec(source, log=log)
        if spec is None:
            record["sources"][source] = {"status": "failed", "error": error}
            continue
        file_reference, shown = None, None
        try:
            if spec.framework in ("torch", "onnx", "tflite"):
                import torch

                torch.set_num_threads(threads)
            network = spec.build()
            real = spec.real_images
            if real is not None:  # a trained file: real images, judged by its task against the file itself
                calibration, validation = real.calibration(CALIBRATION), real.fidelity()
                file_reference = _file_reference(spec, validation, threads)
                record.update(dataset=SHIPPED, task=spec.task, provenance=spec.provenance,
                              calibration=real.calibration_about, validation=real.fidelity_about)
                if real.picture is not None:
                    from study.build.real_images import image
                    from study.build.tasks import picture

                    shown = image(real.picture).shape
                    record["picture"] = {"image": real.picture,
                                         "reference": picture(spec.task, file_reference, shown)}
            else:
                nchw = spec.input_shape if spec.framework == "torch" else (spec.input_shape[2], *spec.input_shape[:2])
                calibration = calibration_inputs(tuple(nchw))
                validation = np.asarray(spec.validation_inputs(VALIDATION), np.float32)  # the framework's layout
        except Exception as exc:  # a model that cannot be built is a failed source, the others go on
            traceback.print_exc()
            record["sources"][source] = {"status": "failed", "error": first_line(exc)}
            continue
        (directory / source).mkdir(parents=True, exist_ok=True)
        record["sources"][source] = {"status": "ok", "framework": spec.framework, "input_shape": list(spec.input_shape)}
        # a shipped file is quantized as the PyTorch module onnx2torch makes of it, in that module's layout
        framework = "torch" if file_reference is not None else spec.framework
        reference = None
        for variant in zoo_variants(framework):
            if runtimes is not None and variant.runtime not in runtimes:
                continue
            path = directory / source / f"{variant.runtime}-{variant.scheme}{variant.suffix}"
            entry = {"source": source, "framework": framework, "runtime": variant.runtime,
                     "scheme": variant.scheme, "precision": variant.precision, "description": variant.description,
                     "path": str(path), "input_shape": list(spec.input_shape)}
            log(f"zoo / {source}: {variant.key}")
            try:
                started = time.perf_counter()
                itself = _shipped_file_as(spec, variant.runtime) if real is not None else None
                if variant.scheme == "fp32" and itself is not None:
                    shutil.copyfile(itself[0], path)
                    entry["description"] = itself[1]
                else:
                    variant.make(network, calibration, path)
                entry["convert_s"] = time.perf_counter() - started
                entry["bytes"], entry["compressed_bytes"] = path.stat().st_size, compressed_bytes(path)
                backend = resolve(RUNTIMES[variant.runtime].backend)(threads=threads)
                backend.load(path, spec, 1)
                answers = _task_outputs(backend, validation)
                outputs = _rows(answers)
                if variant.scheme == "fp32":
                    reference = {**(reference or {}), variant.runtime: outputs}
                twin = (reference or {}).get(variant.runtime)
                if twin is None:
                    raise RuntimeError(f"no fp32 {variant.runtime} twin to compare with")
                entry.update(fidelity(twin, outputs), status="ok")
                if file_reference is not None:
                    from study.build.tasks import picture, task

                    judged = task(spec.task).fidelity(file_reference, answers)
                    entry.update({f"task_{k}": v for k, v in judged.items()}, task=spec.task)
                    if shown is not None:
                        entry["picture"] = picture(spec.task, answers, shown)
            except Exception as exc:  # one quantizer's failure is a result, never the end of the study
                traceback.print_exc()
                entry.update(status="failed", error=first_line(exc))
            record["variants"][f"{source}/{variant.key}"] = entry
    return record


__all__ = ["build", "fidelity", "compressed_bytes", "calibration_inputs", "nhwc"]
