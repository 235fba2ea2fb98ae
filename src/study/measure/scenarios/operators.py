"""The runtime's own profiler over ``options["runs"]`` inferences: time per operator (``Backend.profile_operators``)."""

from __future__ import annotations


def drive(call, backend, inputs, spec, stage, after_each) -> dict:
    return {"operators": backend.profile_operators(inputs, spec.options["runs"])}
