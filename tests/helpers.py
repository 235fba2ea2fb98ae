"""What tests share besides fixtures: the repository, the tiny profile and how to write a variant of it.
(Not in conftest.py: notebooks/ has a conftest too, and only one module can be imported as ``conftest``.)"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# A valid profile on the tiny digits model, with a budget small enough for tests.
TINY_PROFILE = {
    "name": "tiny",
    "description": "test profile",
    "threads": [1],
    "cpu_affinity": [0],
    "batch_sizes": [1, 4],
    "models": ["digits_cnn"],
    "conversion_models": ["digits_cnn"],
    "runtimes": ["torch_eager", "onnxruntime", "litert"],
    "timing": {"warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 5,
               "target_ci": 0.0, "processes": 1},
    "duel": {"max_seconds": 0},  # no duel: a test that judges picks in a duel says so (TINY_STUDY, test_duel)
    "energy": {"source": "model", "windows": 2, "power_model": {"idle_watts": 1.0, "active_watts": 4.0,
                                                                "scope": "per_cpu", "source": "test values"}},
}
TINY_QUANTIZATION = {"datasets": ["digits"], "models": ["plain_cnn"], "seeds": 1, "epochs": 1}
# The study measured once per test session has every phase: two processes per case, operator profiles, a short
# sustained run.
TINY_STUDY = {"quantization": TINY_QUANTIZATION, "operators": {"models": ["digits_cnn"], "runs": 3},
              "sustained": {"seconds": 1.0},
              "duel": {"burst_ms": 10, "set_seconds": 0.3, "looks": [2], "max_seconds": 10},
              "energy": {**TINY_PROFILE["energy"], "other_power_models": [
                  {"idle_watts": 0.5, "active_watts": 2.0, "scope": "per_cpu", "source": "second test set"}]}}


def write_profile(root: Path, file_stem: str, **changes) -> Path:
    profile = copy.deepcopy(TINY_PROFILE)
    profile["name"] = file_stem
    profile.update(changes)
    profile = {k: v for k, v in profile.items() if v is not None}  # None: leave the section out
    path = root / "params" / "profiles" / f"{file_stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path
