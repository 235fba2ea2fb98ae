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


STREAK = 3  # calls over the bound in a row that stop a run: one call alone may be a stall of the shared machine
STALL_S = 1.0  # a call over the bound that took this long stops it at once: no stall of a VM lasts a second


def judge_call(calls: list[float], samples: int, bound: dict | None, runtime: str) -> None:
    """Stop a run whose calls take far longer than the model's own cost: ``calls`` are the seconds of every call so
    far, ``bound`` the source runtime's time per sample (``ms_per_sample``, measured when the artifact was
    validated), the ``slowdown`` allowed and the ``why`` to give (the operators the delegate left out). The first
    call warms up (XNNPACK packs its weights) and is never judged. A run stops when its last ``STREAK`` calls were
    all over the bound, or its last call was over it and took ``STALL_S`` or more: a runtime that is slow is slow on
    every call, while a VM's stall (12 ms in a 0.03 ms model's warm-up, seen here) hits one."""
    if not bound or len(calls) < 2:
        return
    limit_ms = max(bound["slowdown"] * bound["ms_per_sample"], bound.get("floor_ms", 0.0))

    def per_sample(seconds: float) -> float:
        return seconds * 1e3 / max(samples, 1)

    # a call under ``floor_ms`` is never stopped: overhead and noise, not kernels, decide its ratio
    judged = calls[1:][-STREAK:]
    last = per_sample(calls[-1])
    if last <= limit_ms or not (calls[-1] >= STALL_S or (len(judged) == STREAK
                                                         and all(per_sample(c) > limit_ms for c in judged))):
        return
    ratio = last / bound["ms_per_sample"]
    raise TooSlow(f"{runtime} ran this model {ratio:.0f}x slower than {bound['source']} "
                  f"({last:.3g} ms against {bound['ms_per_sample']:.3g} ms a sample; "
                  f"the limit is {bound['slowdown']}x): stopped after {len(calls)} calls"
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
