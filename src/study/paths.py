"""Every path the study reads or writes, in one place.

The project root is found from this file (the package is installed editable from ``src/``);
``STUDY_ROOT`` overrides it so tests and other machines can point the study elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    override = os.environ.get("STUDY_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def params_dir() -> Path:
    return root() / "params"


def profiles_dir() -> Path:
    return params_dir() / "profiles"


def notebook_params_file() -> Path:
    return params_dir() / "notebooks.yaml"


def profile_file(name: str) -> Path:
    return profiles_dir() / f"{name}.yaml"


def notebooks_dir() -> Path:
    return root() / "notebooks"


def artifacts_dir() -> Path:
    return root() / "artifacts"


def model_artifacts_dir(model: str) -> Path:
    return artifacts_dir() / model


def results_dir(profile: str) -> Path:
    return root() / "results" / profile


def reports_dir() -> Path:
    return root() / "reports"


def figures_dir(profile: str) -> Path:
    return root() / "figures" / profile
