"""Fixtures: a throw-away study root (STUDY_ROOT) so tests never touch the real results, and one tiny study
measured once per session (every phase) for every test that only reads results."""

from __future__ import annotations

import copy
import os
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
    "energy": {"source": "model", "windows": 2, "power_model": {"idle_watts": 1.0, "active_watts": 4.0,
                                                                "scope": "per_cpu", "source": "test values"}},
}
TINY_QUANTIZATION = {"datasets": ["digits"], "models": ["plain_cnn"], "seeds": 1, "epochs": 1}


def write_profile(root: Path, file_stem: str, **changes) -> Path:
    profile = copy.deepcopy(TINY_PROFILE)
    profile["name"] = file_stem
    profile.update(changes)
    profile = {k: v for k, v in profile.items() if v is not None}  # None: leave the section out
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


@pytest.fixture(scope="session", autouse=True)
def _machine_cache(tmp_path_factory):
    """The GEMM peak is measured once per machine: once per test session here."""
    previous = os.environ.get("STUDY_CACHE")
    os.environ["STUDY_CACHE"] = str(tmp_path_factory.mktemp("machine-cache"))
    yield
    if previous is None:
        os.environ.pop("STUDY_CACHE", None)
    else:
        os.environ["STUDY_CACHE"] = previous


class _Root:
    """STUDY_ROOT set for a session-scoped fixture (monkeypatch is function-scoped)."""

    def __init__(self, root: Path):
        self.root, self.previous = root, os.environ.get("STUDY_ROOT")

    def __enter__(self):
        os.environ["STUDY_ROOT"] = str(self.root)
        return self.root

    def __exit__(self, *exc):
        if self.previous is None:
            os.environ.pop("STUDY_ROOT", None)
        else:
            os.environ["STUDY_ROOT"] = self.previous


@pytest.fixture(scope="session")
def _tiny_study(_shared_root):
    from study.bench import bench

    with _Root(_shared_root):
        write_profile(_shared_root, "tiny", quantization=TINY_QUANTIZATION)
        bench("tiny", progress=False)
    return _shared_root


@pytest.fixture
def tiny_study(_tiny_study, monkeypatch):
    """The tiny profile (digits_cnn in three runtimes, batch 1 and 4, modelled energy, a one-build quantization
    study), measured once per session; for tests that only read its results."""
    monkeypatch.setenv("STUDY_ROOT", str(_tiny_study))
    return _tiny_study


@pytest.fixture(scope="session")
def tiny_report(_tiny_study):
    """The report of the tiny profile, built once the way `make report` builds it."""
    from study.report import build_report

    with _Root(_tiny_study):
        return build_report(["tiny"])
