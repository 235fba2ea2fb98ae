"""The notebooks' parameters: ``params/notebooks.yaml`` gives each notebook its own (budgets, figure choices), and
Papermill's ``profile`` is added to them."""

from __future__ import annotations

from pathlib import Path

import yaml

from study.core import paths
from study.core.errors import StudyError


def notebook_parameters(notebook: Path, profile: str) -> dict:
    source = paths.notebook_params_file()
    every = {}
    if source.exists():
        try:
            every = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise StudyError(f"{source.name}: malformed YAML ({str(exc).splitlines()[0]}). Fix: correct it") from None
        if not isinstance(every, dict):
            raise StudyError(f"params/{source.name}: expected a mapping of notebook name to parameters. Fix: "
                             "write e.g. '01_inference_time: {}'")
    own = every.get(notebook.stem) or {}
    if not isinstance(own, dict):
        raise StudyError(f"params/{source.name}: {notebook.stem}: expected a mapping of parameters. Fix: write "
                         f"'{notebook.stem}: {{name: value}}'")
    return {**own, "profile": profile}
