"""The zoo's full-size models (224x224) through every quantizer that applies, judged by fidelity to their fp32 twin.

The zoo's weights are seeded, so top-1 accuracy means nothing: each variant is compared with the fp32 twin of its
own runtime on the validation inputs (top-1 agreement, SQNR in dB, largest difference relative to the twin's
largest output): fidelity, not accuracy. A PyTorch zoo model goes through the PyTorch-source quantizers (ONNX
Runtime, ExecuTorch), its Keras twin through the Keras-source ones (LiteRT).

Calibration set (fixed, documented): ``CALIBRATION`` seeded standard-normal inputs (seed ``CALIBRATION_SEED``), the
distribution the zoo's batch norms were calibrated on (study.models.calibration), other draws than the validation
inputs (``ModelSpec.validation_inputs``: ``VALIDATION`` draws of seed 1234).
"""

from __future__ import annotations

import time
import traceback
import zlib
from pathlib import Path

import numpy as np

from study.quant.build import first_line
from study.quant.quantizers import nhwc, variants_for

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


def _outputs(backend, images: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(backend.predict(np.ascontiguousarray(images[i:i + 1]))).reshape(1, -1)
                           for i in range(len(images))])


def zoo_variants(framework: str) -> list:
    """The variants of one source model: its framework's quantizers, plus LiteRT from a PyTorch model's file."""
    return [v for v in variants_for(framework, litert_from_torch=True) if v.runtime in RUNTIMES_OF[framework]]


def sources(model: str) -> list[str]:
    """The zoo model and its Keras twin, each the source of the quantizers of its framework."""
    twin = KERAS_TWINS.get(model)
    return [model, twin] if twin else [model]


def build(model: str, directory: Path, threads: int, log=print) -> dict:
    """Every variant of one zoo model (and its Keras twin): the file, its size, its fidelity, or its error."""
    from study.convert import model_spec
    from study.registry import resolve
    from study.runtimes import RUNTIMES

    record = {"dataset": DATASET, "model": model, "calibration": f"{CALIBRATION} seeded standard-normal inputs "
              f"(seed {CALIBRATION_SEED})", "validation": f"{VALIDATION} seeded inputs (seed 1234)",
              "sources": {}, "variants": {}}
    for source in sources(model):
        spec, error = model_spec(source, log=log)
        if spec is None:
            record["sources"][source] = {"status": "failed", "error": error}
            continue
        try:
            if spec.framework == "torch":
                import torch

                torch.set_num_threads(threads)
            network = spec.build()
        except Exception as exc:  # a model that cannot be built is a failed source, the others go on
            traceback.print_exc()
            record["sources"][source] = {"status": "failed", "error": first_line(exc)}
            continue
        (directory / source).mkdir(parents=True, exist_ok=True)
        record["sources"][source] = {"status": "ok", "framework": spec.framework, "input_shape": list(spec.input_shape)}
        nchw = spec.input_shape if spec.framework == "torch" else (spec.input_shape[2], *spec.input_shape[:2])
        calibration = calibration_inputs(tuple(nchw))
        validation = np.asarray(spec.validation_inputs(VALIDATION), np.float32)  # in the framework's layout
        reference = None
        for variant in zoo_variants(spec.framework):
            path = directory / source / f"{variant.runtime}-{variant.scheme}{variant.suffix}"
            entry = {"source": source, "framework": spec.framework, "runtime": variant.runtime,
                     "scheme": variant.scheme, "precision": variant.precision, "description": variant.description,
                     "path": str(path), "input_shape": list(spec.input_shape)}
            log(f"zoo / {source}: {variant.key}")
            try:
                started = time.perf_counter()
                variant.make(network, calibration, path)
                entry["convert_s"] = time.perf_counter() - started
                entry["bytes"], entry["compressed_bytes"] = path.stat().st_size, compressed_bytes(path)
                backend = resolve(RUNTIMES[variant.runtime].backend)(threads=threads)
                backend.load(path, spec, 1)
                outputs = _outputs(backend, validation)
                if variant.scheme == "fp32":
                    reference = {**(reference or {}), variant.runtime: outputs}
                twin = (reference or {}).get(variant.runtime)
                if twin is None:
                    raise RuntimeError(f"no fp32 {variant.runtime} twin to compare with")
                entry.update(fidelity(twin, outputs), status="ok")
            except Exception as exc:  # one quantizer's failure is a result, never the end of the study
                traceback.print_exc()
                entry.update(status="failed", error=first_line(exc))
            record["variants"][f"{source}/{variant.key}"] = entry
    return record


__all__ = ["build", "fidelity", "compressed_bytes", "calibration_inputs", "nhwc"]
