"""PyTorch -> TorchScript for the lite interpreter: PyTorch Mobile's format.

``optimize_for_mobile`` is tried first; the registry's torch wheels are built without XNNPACK, where
it raises, and the frozen trace is saved unoptimised instead. The record says which happened.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.mobile_optimizer import optimize_for_mobile

from study.build.export.torch_state import load_source
from study.build.models.spec import ModelSpec


def export(model: ModelSpec, weights: Path | None, destination: Path, batch: int) -> dict:
    module = load_source(model, weights)
    example = model.torch_example(batch)
    with torch.no_grad():
        traced = torch.jit.trace(module, example)
    try:
        program, optimised, note = optimize_for_mobile(traced), True, ""
    except RuntimeError as exc:
        program, optimised = torch.jit.freeze(traced.eval()), False
        note = "optimize_for_mobile unavailable: " + str(exc).strip().splitlines()[-1][:200]
    program._save_for_lite_interpreter(str(destination))
    return {"exporter": "torch.jit.trace + " + ("optimize_for_mobile" if optimised else "freeze"),
            "note": note}
