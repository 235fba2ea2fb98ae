"""The timing loops and what a process can see of itself while they run.

The loop follows TFLite's benchmark_model: warm up for a minimum count AND a minimum time, then time
runs until both a minimum count and a minimum time are reached (capped by a maximum time). Every
sample is kept; the statistics are computed from them in ``study.core.statistics``.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from study.core.statistics import median_ci_halfwidth


class TooSlow(RuntimeError):
    """A run far slower than the same model in its source runtime: stopped early, with the ratio and the why."""


def judge_call(seconds: float, calls: int, samples: int, bound: dict | None, runtime: str) -> None:
    """Stop a run whose call took far longer than the model's own cost: ``bound`` is the source runtime's time per
    sample (``ms_per_sample``, measured when the artifact was validated), the ``slowdown`` allowed and the ``why``
    to give (the operators the delegate left out). The first call warms up (XNNPACK packs its weights), so
    calls are judged from the second on."""
    if not bound or calls < 2:
        return
    per_sample = seconds * 1e3 / max(samples, 1)
    if per_sample <= max(bound["slowdown"] * bound["ms_per_sample"], bound.get("floor_ms", 0.0)):
        return  # a call under ``floor_ms`` is never stopped: overhead and noise, not kernels, decide its ratio
    ratio = per_sample / bound["ms_per_sample"]
    raise TooSlow(f"{runtime} ran this model {ratio:.0f}x slower than {bound['source']} "
                  f"({per_sample:.0f} ms against {bound['ms_per_sample']:.1f} ms a sample; "
                  f"the limit is {bound['slowdown']}x): stopped after {calls} calls"
                  + (f". {bound['why']}" if bound.get("why") else ""))


def timed_runs(call: Callable[[], object], min_runs: int, min_seconds: float, max_seconds: float,
               target_ci: float = 0.0, after_each: Callable[[], object] | None = None) -> list[float]:
    """Call until at least ``min_runs`` calls and ``min_seconds`` have passed and, when ``target_ci`` is set,
    the median's 95% CI half-width is within ``target_ci`` of the median; ``max_seconds`` caps it all. ms each.
    ``after_each`` runs after every call, outside its timed interval (trackers observe there)."""
    samples: list[float] = []
    started = time.perf_counter()
    next_check = min_runs
    while True:
        begin = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - begin) / 1e6)
        if after_each is not None:
            after_each()
        elapsed = time.perf_counter() - started
        if elapsed >= max_seconds:
            return samples
        if len(samples) >= min_runs and elapsed >= min_seconds:
            if target_ci <= 0:
                return samples
            if len(samples) >= next_check:
                if median_ci_halfwidth(samples) <= target_ci:
                    return samples
                next_check = len(samples) + max(10, len(samples) // 10)  # re-check every ~10% more runs


def sustained_runs(call: Callable[[], object], seconds: float, after_each: Callable[[], object] | None = None
                   ) -> tuple[list[float], list[float]]:
    """Call back to back for ``seconds``: each call's latency (ms) and its start (s after the first call)."""
    samples: list[float] = []
    offsets: list[float] = []
    origin = time.perf_counter_ns()
    deadline = origin + int(seconds * 1e9)
    while True:
        begin = time.perf_counter_ns()
        if begin >= deadline:
            return samples, offsets
        call()
        samples.append((time.perf_counter_ns() - begin) / 1e6)
        offsets.append((begin - origin) / 1e9)
        if after_each is not None:
            after_each()


def harness_overhead_ms(seconds: float = 0.2) -> float:
    """Median cost of the timing loop itself around a no-op call (ms): what every sample includes."""
    return float(np.median(timed_runs(lambda: None, min_runs=1000, min_seconds=seconds, max_seconds=seconds * 5)))
