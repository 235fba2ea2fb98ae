"""The quantization study's plan: one build per (dataset, model, seed), identified by everything that
determines it (the data, the epochs, the measuring code, the framework versions), so a rerun trains nothing
already trained and a build is shared by every profile of the machine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from study import environment, paths
from study.profiles import Profile

QUANT_VERSION = 1


MEASURING_CODE = ("datasets.py", "nets.py", "quantizers.py", "build.py")  # tables and figures never re-measure


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in MEASURING_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _dataset_hash(ref: str) -> str:
    path = Path(ref) if Path(ref).is_absolute() else paths.root() / ref
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.suffix == ".csv" and path.is_file() else ref


def jobs(profile: Profile) -> list[dict]:
    q = profile.quantization
    planned = []
    for dataset in q.datasets:
        for model in q.models:
            for seed in range(q.seeds):
                inputs = {"dataset": dataset, "dataset_hash": _dataset_hash(dataset), "model": model, "seed": seed,
                          "epochs": q.epochs, "code": _code_hash(), "version": QUANT_VERSION,
                          "versions": environment.versions(["torch", "tensorflow", "onnxruntime", "executorch",
                                                            "ai-edge-litert"])}
                job_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
                planned.append({"id": job_id, "inputs": inputs})
    return planned




SHIPPED = "shipped"  # the dataset column of a shipped model's variants (here, so tables need not import zoo.py)
FILE_ITSELF = "shipped file"  # the runtime of a picture's reference row: the file run in its own runtime

ZOO_CODE = ("zoo.py", "quantizers.py", "../models/shipped.py", "../tasks/face_detection.py",
            "../tasks/text_detection.py", "../tasks/classification.py")


def zoo_jobs(profile: Profile) -> list[dict]:
    """One build per full-size zoo model (every variant of it and of its Keras twin, with fidelity) and per shipped
    model (every variant, with task fidelity on real images)."""
    q = profile.quantization
    planned = []
    for model in ((*q.zoo_models, *q.shipped_models) if q else ()):
        digest = hashlib.sha256()
        for name in ZOO_CODE:
            digest.update((Path(__file__).parent / name).read_bytes())
        inputs = {"model": model, "code": digest.hexdigest()[:16], "version": QUANT_VERSION,
                  "versions": environment.versions(["torch", "tensorflow", "onnxruntime", "executorch",
                                                    "ai-edge-litert"])}
        planned.append({"id": "zoo-" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16],
                        "inputs": inputs})
    return planned
