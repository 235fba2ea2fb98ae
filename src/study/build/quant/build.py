"""One (dataset, model, seed) of the quantization study, in its own process: train, make every variant,
run each in its runtime on the whole test split.

A variant that fails to convert or to run is recorded with its first error line; the others go on.
Predictions are kept raw (one class per test image), so every metric is computed, and can be recomputed,
from the record.
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path

import numpy as np

from study.build.quant import datasets, nets
from study.build.quant.quantizers import VARIANTS, calibrated, nhwc, variants_for


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".strip().rstrip(":")[:400]


def input_shape(framework: str, channels: int, side: int = datasets.SIZE) -> tuple[int, ...]:
    return (side, side, channels) if framework == "keras" else (channels, side, side)


def model_spec(name: str, framework: str, channels: int, side: int = datasets.SIZE):
    """The runtime backends need only the input shape of one sample."""
    from study.build.models.spec import ModelSpec

    return ModelSpec(name, framework, input_shape(framework, channels, side), "quantization study model", lambda: None)


def predict_all(backend, images: np.ndarray) -> np.ndarray:
    return np.array([int(np.argmax(backend.predict(np.ascontiguousarray(images[i:i + 1])))) for i in range(len(images))])


def source_predictions(model, framework: str, images: np.ndarray) -> np.ndarray:
    if framework == "torch":
        import torch

        with torch.no_grad():
            return model(torch.from_numpy(images)).argmax(1).numpy()
    return np.asarray(model.predict(nhwc(images), verbose=0).argmax(1))


def build(dataset: str, model_name: str, seed: int, epochs: int, directory: Path, threads: int, log=print) -> dict:
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES

    spec = nets.QUANT_MODELS[model_name]
    data = datasets.load(dataset, spec.input_side)
    if spec.framework == "torch":
        import torch

        torch.set_num_threads(threads)
    started = time.perf_counter()
    model = nets.train(spec, data, seed, epochs=epochs)
    train_s = time.perf_counter() - started
    directory.mkdir(parents=True, exist_ok=True)
    images = data.x_test if spec.framework == "torch" else nhwc(data.x_test)
    record = {"dataset": data.name, "dataset_description": data.description, "classes": data.classes,
              "model": model_name, "framework": spec.framework, "input_side": spec.input_side, "seed": seed,
              "epochs": epochs, "train_s": train_s,
              "labels": data.y_test.tolist(), "groups": {k: v.tolist() for k, v in data.groups_test.items()},
              "train_groups": {k: dict(zip(*[a.tolist() for a in np.unique(v, return_counts=True)]))
                               for k, v in data.groups_train.items()},
              "source_predictions": source_predictions(model, spec.framework, data.x_test).tolist(), "variants": {}}
    shape_spec = model_spec(model_name, spec.framework, data.channels, spec.input_side)

    def make_and_run(variant, calibration: np.ndarray, path: Path, entry: dict) -> dict:
        try:
            started = time.perf_counter()
            variant.make(model, calibration, path)
            entry["convert_s"] = time.perf_counter() - started
            entry["bytes"] = path.stat().st_size
            backend = resolve(RUNTIMES[variant.runtime].backend)(threads=threads)
            backend.load(path, shape_spec, 1)
            entry["predictions"] = predict_all(backend, images).tolist()
            entry["status"] = "ok"
        except Exception as exc:  # one quantizer's failure is a result, never the end of the study
            traceback.print_exc()
            entry.update(status="failed", error=first_line(exc))
        return entry

    variants = variants_for(spec.framework, spec.litert_from_torch)
    for variant in variants:
        path = directory / f"{variant.runtime}-{variant.scheme}{variant.suffix}"
        log(f"{data.name} / {model_name} / seed {seed}: {variant.key}")
        record["variants"][variant.key] = make_and_run(
            variant, data.calibration(), path, {"runtime": variant.runtime, "scheme": variant.scheme,
                                                "precision": variant.precision, "description": variant.description,
                                                "path": str(path)})
    record["calibration_ablation"] = calibration_ablation(data, variants, directory, make_and_run, log)
    return record


ABLATED_SCHEMES = ("qdq-int8-channel", "pt2e-int8", "int8")  # one per-channel static int8 scheme per runtime


def calibration_ablation(data, variants, directory: Path, make_and_run, log=print) -> dict:
    """Post-training quantization sees the groups only through its calibration set: remake each runtime's
    per-channel static int8 variant with the minority group removed from that set and over-represented in it (the
    main variant is the ``share`` mix). Only for a dataset with a minority group; ``{}`` otherwise."""
    minority = data.minority()
    if minority is None:
        return {}
    column, group, share = minority
    found = {"group_by": column, "minority": group, "training_share": share, "variants": {}}
    for variant in (v for v in variants if calibrated(v) and v.scheme in ABLATED_SCHEMES):
        for mix in datasets.CALIBRATION_MIXES:
            images, mix_share = data.calibration_mix(mix)
            entry = {"runtime": variant.runtime, "scheme": variant.scheme, "mix": mix, "minority_share": mix_share}
            if mix == "share":  # the main variant was calibrated on this very set
                found["variants"][f"{variant.key}/{mix}"] = {**entry, "same_as": variant.key}
                continue
            path = directory / "calibration" / f"{variant.runtime}-{variant.scheme}-{mix}{variant.suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if variant.reads_fp32:
                shutil.copyfile(directory / variant.fp32_file, path.parent / variant.fp32_file)
            log(f"{data.name}: calibration ablation, {variant.key} with the {group} group {mix}")
            found["variants"][f"{variant.key}/{mix}"] = make_and_run(variant, images, path, entry)
    return found


assert all(v.twin in VARIANTS for v in VARIANTS.values())  # every variant has its fp32 twin in the registry
