"""One continuous run of ``options["seconds"]``: does the rate hold, or does the device throttle? Every call's
time and when it ended."""

from __future__ import annotations

from study.measure.timing import sustained_runs


def drive(call, backend, inputs, spec, stage, after_each) -> dict:
    stage("timed")
    samples, offsets = sustained_runs(call, spec.options["seconds"], after_each=after_each)
    stage("timed_done")
    return {"samples_ms": samples, "offsets_s": offsets}
