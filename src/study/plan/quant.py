"""The quantization study's plan: one build per (dataset, model, seed), identified by everything that
determines it (the data, the epochs, the measuring code, the framework versions), so a rerun trains nothing
already trained and a build is shared by every profile of the machine."""

from __future__ import annotations

import hashlib
from pathlib import Path

from study.core import environment, paths
from study.core.ids import code_digest, content_id
from study.plan.profiles import Profile

QUANT_VERSION = 1


# tables and figures never re-measure
MEASURING_CODE = tuple(f"study.build.quant.{name}" for name in ("datasets", "nets", "quantizers", "build"))


def _code_hash() -> str:
    return code_digest(*MEASURING_CODE)


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
                          "versions": environment.runtime_versions()}
                job_id = content_id(inputs)
                planned.append({"id": job_id, "inputs": inputs})
    return planned





ZOO_CODE = ("study.build.quant.zoo", "study.build.quant.quantizers", "study.build.models.shipped",
            "study.build.tasks.face_detection", "study.build.tasks.text_detection", "study.build.tasks.classification")


def zoo_jobs(profile: Profile) -> list[dict]:
    """One build per full-size zoo model (every variant of it and of its Keras twin, with fidelity) and per shipped
    model (every variant, with task fidelity on real images)."""
    q = profile.quantization
    planned = []
    for model in ((*q.zoo_models, *q.shipped_models) if q else ()):
        inputs = {"model": model, "code": code_digest(*ZOO_CODE), "version": QUANT_VERSION,
                  "versions": environment.runtime_versions()}
        planned.append({"id": "zoo-" + content_id(inputs),
                        "inputs": inputs})
    return planned
