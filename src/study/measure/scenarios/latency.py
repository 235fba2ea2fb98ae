"""Timed runs until the profile's budget is met (``min_runs`` and ``min_seconds``, at most ``max_seconds``, early
once the p50's interval is within ``target_ci``), and the harness's own cost per call."""

from __future__ import annotations

from study.measure.timing import harness_overhead_ms, timed_runs


def drive(call, backend, inputs, spec, stage, after_each) -> dict:
    timing = spec.timing
    stage("timed")
    samples = timed_runs(call, timing.min_runs, timing.min_seconds, timing.max_seconds, timing.target_ci,
                         after_each=after_each)
    stage("timed_done")
    return {"samples_ms": samples, "harness_overhead_ms": harness_overhead_ms()}
