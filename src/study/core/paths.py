"""Every path the study reads or writes, in one place.

The project root is found from this file (the package is installed editable from ``src/``);
``STUDY_ROOT`` overrides it so tests and other machines can point the study elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def checkout() -> Path:
    """The project checkout this package runs from (``STUDY_ROOT`` or not)."""
    return Path(__file__).resolve().parents[3]


def root() -> Path:
    override = os.environ.get("STUDY_ROOT")
    if override:
        return Path(override).resolve()
    return checkout()


def params_dir() -> Path:
    return root() / "params"


def profiles_dir() -> Path:
    return params_dir() / "profiles"


def notebook_params_file() -> Path:
    """The notebooks' parameters: the study root's, else the checkout's (where the default budgets are written)."""
    own = params_dir() / "notebooks.yaml"
    return own if own.exists() else checkout() / "params" / "notebooks.yaml"


def profile_file(name: str) -> Path:
    return profiles_dir() / f"{name}.yaml"


def project_runs_dir() -> Path:
    """``runs/``: the committed records of the project's own commands (``make test``, ``.ci/run``, ``make report``)
    timed on a machine class, from which the README's cost table is generated. Always the checkout's, never
    ``STUDY_ROOT``'s: they describe this code, not a study's results."""
    return checkout() / "runs"


def notebooks_dir() -> Path:
    return root() / "notebooks"


def artifacts_dir() -> Path:
    return root() / "artifacts"


def slug(model: str) -> str:
    """A folder name for a model: a zoo name as it is, a file path or factory made safe and unique."""
    import hashlib
    import re

    if re.fullmatch(r"[A-Za-z0-9_.-]+", model) and not model.startswith("."):
        return model
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", model.split("/")[-1]).strip("-.")[:40]
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def model_artifacts_dir(model: str) -> Path:
    return artifacts_dir() / slug(model)


def results_dir(profile: str) -> Path:
    return root() / "results" / profile


def measured_profile_file(profile: str) -> Path:
    """The profile a results folder was measured with, written there by ``bench`` (it travels with the folder)."""
    return results_dir(profile) / "profile.yaml"


def reports_dir() -> Path:
    return root() / "reports"


def figures_dir(profile: str) -> Path:
    return root() / "figures" / profile


def downloads_dir() -> Path:
    """Files taken from pinned wheels on the registry (trained models that ship in packages): the same bytes on
    every machine, so kept once per user (``STUDY_CACHE`` or ``$XDG_CACHE_HOME/edge-runtime-study``) and shared by
    every checkout and test."""
    return _user_cache() / "downloads"


def _user_cache() -> Path:
    return Path(os.environ.get("STUDY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "edge-runtime-study"))


def locks_dir() -> Path:
    """The measuring locks of this user's runs (``study.core.locks``), shared by every checkout on the machine."""
    return _user_cache() / "locks"


def standin_dir() -> Path:
    """Stand-in devices served on this machine (``python -m study device stand-in``): their keys and ssh config."""
    return _user_cache() / "stand-in"


def device_results_file(profile: str) -> Path:
    """What a device profile's device is (CPU, ISA, governor, runtimes' versions), beside its results."""
    return results_dir(profile) / "device.json"


def machine_cache_dir() -> Path:
    """Measurements of the machine itself (the GEMM peak), shared by every profile and checkout on it:
    ``STUDY_CACHE``, else ``$XDG_CACHE_HOME/edge-runtime-study``, one folder per host name."""
    import socket

    return _user_cache() / socket.gethostname()
