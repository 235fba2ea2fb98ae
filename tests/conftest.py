"""Fixtures: a throw-away study root (STUDY_ROOT) so tests never touch the real results."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
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
               "target_ci": 0.0},
    "quantization": {"datasets": ["digits"], "models": ["plain_cnn"], "seeds": 1, "epochs": 1},
    "energy": {"source": "model", "window_seconds": 0.2, "windows": 2, "power_model": {"idle_watts": 1.0, "active_watts": 4.0, "scope": "per_cpu",
                                                  "source": "test values"}},
}


def write_profile(root: Path, file_stem: str, **changes) -> Path:
    profile = copy.deepcopy(TINY_PROFILE)
    profile["name"] = file_stem
    profile.update(changes)
    path = root / "params" / "profiles" / f"{file_stem}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@pytest.fixture
def study_root(tmp_path, monkeypatch):
    (tmp_path / "params" / "profiles").mkdir(parents=True)
    monkeypatch.setenv("STUDY_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def _shared_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("study-root")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    return root


@pytest.fixture
def bench_root(_shared_root, monkeypatch):
    """A root shared by the measuring tests, so the tiny model is converted once per session."""
    monkeypatch.setenv("STUDY_ROOT", str(_shared_root))
    return _shared_root
