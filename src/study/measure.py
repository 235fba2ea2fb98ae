"""Timing loops and latency statistics.

The loop follows TFLite's benchmark_model: warm up for a minimum count AND a minimum time, then time
runs until both a minimum count and a minimum time are reached (capped by a maximum time). Every
sample is kept; the statistics below are computed from them and are pure functions, tested on
synthetic samples with known answers.
"""

from __future__ import annotations

import resource
import time
from typing import Callable

import numpy as np

# Part of every case id: bump it when what a measurement means changes, so old records are re-measured.
HARNESS_VERSION = 6
DISPERSION_WARNING_CV = 0.10  # torch.utils.benchmark warns when spread is this large
# Something else ran on the case's CPUs during its timed runs: the hypervisor (steal time), or other processes
# (the CPUs' busy time beyond the case's own CPU time; a case alone shows about 1%). Involuntary context switches
# and the load average are recorded but do not flag: a runtime's own threads pre-empt each other, and the load
# average covers the last minute, not the timed runs.
CONTENTION_STEAL_PCT = 2.0
CONTENTION_OTHERS_PCT = 10.0
# Tail percentiles need enough samples to mean anything: with 100 samples the p99 is the maximum.
MIN_RUNS_FOR = {"p90_ms": 100, "p99_ms": 1000}


def contended(steal_pct, others_pct) -> bool | None:
    """Whether a case was measured under contention (see the thresholds above); None when not recorded."""
    if steal_pct is None and others_pct is None:
        return None
    return bool((steal_pct or 0.0) > CONTENTION_STEAL_PCT or (others_pct or 0.0) > CONTENTION_OTHERS_PCT)


BOOTSTRAP_RESAMPLES = 2000


def median_ci_halfwidth(samples) -> float:
    """Half-width of the distribution-free 95% CI of the median (order statistics), relative to the median.

    Cheap enough to check while timing; the reported CI is the bootstrap one, which agrees closely.
    """
    ordered = np.sort(np.asarray(samples, dtype=float))
    n = ordered.size
    if n < 10:
        return float("inf")
    spread = 1.96 * np.sqrt(n) / 2
    low, high = int(np.floor(n / 2 - spread)), int(np.ceil(n / 2 + spread))
    median = float(np.median(ordered))
    return (ordered[min(high, n - 1)] - ordered[max(low, 0)]) / 2 / median if median > 0 else float("inf")


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


def bootstrap_ci(samples: np.ndarray, statistic=np.median, level: float = 0.95,
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of ``statistic``; seeded so reruns agree."""
    samples = np.asarray(samples, dtype=float)
    if samples.size < 2:
        value = float(statistic(samples)) if samples.size else float("nan")
        return value, value
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    chunk = max(1, 2_000_000 // samples.size)  # bound memory for long sample series
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        draws = rng.integers(0, samples.size, size=(stop - start, samples.size))
        estimates[start:stop] = statistic(samples[draws], axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    return float(low), float(high)


def harness_overhead_ms(seconds: float = 0.2) -> float:
    """Median cost of the timing loop itself around a no-op call (ms): what every sample includes."""
    return float(np.median(timed_runs(lambda: None, min_runs=1000, min_seconds=seconds, max_seconds=seconds * 5)))


MAX_DRAWS = 5000  # samples drawn per process and resample: fewer than measured only widens the interval


def hierarchical_ci(groups, statistic=np.median, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = 0) -> tuple[float, float]:
    """95% CI of ``statistic`` over samples that come in groups (one group per process), covering the variation
    between processes as well as within them: a two-stage bootstrap (draw processes with replacement, then samples
    within each drawn process), its percentile interval then expanded for the few processes it rests on.

    With G processes the bootstrap sees the between-process spread with G-1 degrees of freedom and is too narrow
    (with 3 processes its percentile interval covers about two thirds of reruns, not 95%). The expansion is
    Hesterberg's (2015, "What teachers should know about the bootstrap"): each half-width is scaled by
    sqrt(G/(G-1)) * t(G-1) / z, which for a mean of G values is exactly the Student t interval. One group is
    the plain bootstrap over its samples: it says nothing about reruns.
    """
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if len(groups) < 2:
        return bootstrap_ci(groups[0] if groups else np.array([]), statistic, level, resamples, seed)
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    for index in range(resamples):
        chosen = rng.integers(0, len(groups), size=len(groups))
        pooled = np.concatenate([groups[g][rng.integers(0, groups[g].size, size=min(groups[g].size, MAX_DRAWS))]
                                 for g in chosen])
        estimates[index] = statistic(pooled)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    from scipy import stats

    count = len(groups)
    expansion = np.sqrt(count / (count - 1)) * stats.t.ppf(1 - tail, count - 1) / stats.norm.ppf(1 - tail)
    pooled = np.concatenate(groups)
    centre = float(statistic(pooled))
    # never beyond the samples themselves: with two processes the expansion (12.7 / 1.96 x 1.41) could go below zero
    return (max(centre - expansion * max(centre - float(low), 0.0), float(pooled.min())),
            min(centre + expansion * max(float(high) - centre, 0.0), float(pooled.max())))


def summarize(samples_ms, batch: int = 1, processes: list | None = None) -> dict[str, float]:
    """Steady-state latency statistics of one case (ms), with throughput in inferences per second.

    ``processes``: the same samples split by the process that measured them; the p50's CI then covers the
    variation between processes (``hierarchical_ci``), and their spread is reported."""
    samples = np.asarray(samples_ms, dtype=float)
    if samples.size == 0:
        raise ValueError("no latency samples to summarise")
    processes = [p for p in (processes or [samples]) if len(p)]
    mean = float(samples.mean())
    std = float(samples.std(ddof=1)) if samples.size > 1 else 0.0
    p50, p90, p99 = (float(v) for v in np.percentile(samples, [50, 90, 99]))
    ci_low, ci_high = hierarchical_ci(processes)
    per_process = [float(np.median(p)) for p in processes]
    cv = std / mean if mean > 0 else float("nan")
    return {
        "n_runs": int(samples.size),
        "n_processes": len(processes),
        "process_spread_pct": 100.0 * (max(per_process) - min(per_process)) / p50 if p50 > 0 else float("nan"),
        "mean_ms": mean,
        "std_ms": std,
        "cv": cv,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "min_ms": float(samples.min()),
        "ci_low_ms": ci_low,
        "ci_high_ms": ci_high,
        "throughput_ips": batch * 1000.0 / p50 if p50 > 0 else float("nan"),
        "high_dispersion": bool(cv > DISPERSION_WARNING_CV),
    }


def mapped_libraries() -> set[str]:
    """Shared libraries mapped into this process now (Linux /proc/self/maps; empty elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return {line.split(maxsplit=5)[5].strip() for line in maps
                    if line.count(" ") >= 5 and ".so" in line.rsplit("/", 1)[-1]}
    except OSError:
        return set()


def peak_rss_mib() -> float:
    """Peak resident set size of this process image so far, in MiB.

    On Linux this is ``VmHWM``: ``ru_maxrss`` is no use in a fresh subprocess, because it survives
    ``execve`` and so starts at the resident size of the parent that forked it.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # reported in kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
