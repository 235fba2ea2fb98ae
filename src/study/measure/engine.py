"""The one measurement loop, run inside a case's own process (``study.measure.worker``).

What is run (a runtime's backend: load, predict), how it is driven (a scenario of ``study.measure.scenarios``:
timed runs until the profile's budget is met, a sustained run, the runtime's profiler, or energy windows for a
counter or meter) and what is observed (trackers: peak memory at each stage, the native libraries the runtime
mapped, CPU time along the timed runs) are separate, so a zoo model, a quantized variant and an energy case all
yield the same fields.
"""

from __future__ import annotations

import time
from pathlib import Path

from study.measure.launcher import CaseSpec
from study.measure.scenarios import SCENARIOS
from study.measure.timing import judge_call, timed_runs
from study.measure.trackers import TRACKERS, Tracker, tracker_class


def _model(spec: CaseSpec):
    """The zoo or bring-your-own model, or a bare input description (a quantized variant needs only that)."""
    from study.build.models import ModelSpec, get_model

    if spec.model_input:
        given = spec.model_input
        return ModelSpec(spec.model or "variant", given.framework, tuple(given.shape),
                         "described by its input", lambda: None, inputs=tuple(given.inputs))
    return get_model(spec.model)


def _bounded(call, spec: CaseSpec, first_ms: float):
    """``call`` judged against the model's own cost during the warm-up (``study.measure.timing.judge_call``): a
    runtime far slower than the model's source stops there, with one line, instead of timing minutes of calls. The
    timed runs call it bare; whatever passed the warm-up passes them."""
    bound = spec.options.get("bound")
    if not bound:
        return call
    calls = [first_ms / 1e3]

    def judged():
        started = time.perf_counter()
        out = call()
        calls.append(time.perf_counter() - started)
        judge_call(calls, spec.batch, bound, spec.runtime)
        return out

    return judged


def run(spec: CaseSpec | dict) -> dict:
    """Resolve, load, first call, warm-up, then the scenario; every tracker's fields in the result."""
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES

    spec = spec if isinstance(spec, CaseSpec) else CaseSpec.from_json(spec)
    trackers = [tracker_class(name)() for name in (spec.trackers if spec.trackers is not None else TRACKERS)]

    def stage(name: str) -> None:
        for tracker in trackers:
            tracker.stage(name)

    model = _model(spec)
    inputs = model.example_input(batch=spec.batch)
    timing = spec.timing
    stage("start")

    started = time.perf_counter()
    backend_class = resolve(RUNTIMES[spec.runtime].backend)
    import_ms = (time.perf_counter() - started) * 1e3
    if spec.options.get("import_unpinned") and spec.cpus:  # imported on any CPU; loaded and run on the case's
        import os

        os.sched_setaffinity(0, spec.cpus)
    stage("imported")

    backend = backend_class(threads=spec.threads)
    started = time.perf_counter()
    backend.load(Path(spec.artifact), model, spec.batch)
    load_ms = (time.perf_counter() - started) * 1e3
    stage("loaded")

    started = time.perf_counter()
    output = backend.predict(inputs)
    first_ms = (time.perf_counter() - started) * 1e3
    stage("first")

    call = lambda: backend.predict(inputs)  # noqa: E731
    warmup = timed_runs(_bounded(call, spec, first_ms), max(timing.warmup_runs, 1), timing.warmup_seconds,
                        timing.max_seconds)
    result = {"status": "ok", "import_ms": import_ms, "load_ms": load_ms, "first_ms": first_ms, "warmup_ms": warmup,
              "output_shape": list(getattr(output, "shape", ()))}
    if spec.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {spec.scenario!r}: one of {', '.join(SCENARIOS)}")
    observers = [t.between_calls for t in trackers if type(t).between_calls is not Tracker.between_calls]
    after_each = (lambda: [observe() for observe in observers]) if observers else None
    result.update(resolve(SCENARIOS[spec.scenario])(call, backend, inputs, spec, stage, after_each))
    stage("done")
    for tracker in trackers:
        result.update(tracker.result())
    return result
