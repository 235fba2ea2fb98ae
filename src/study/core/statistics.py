"""Latency statistics: pure functions of the kept samples (medians, percentiles, bootstrap intervals over runs
and over processes, contention flags), tested on synthetic samples with known answers. Every layer computes its
statistics here, so a better interval is a change to this file and a re-render, not a re-measure."""

from __future__ import annotations

import numpy as np

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


def bootstrap_means(values, resamples: int, seed: int) -> np.ndarray:
    """The means of ``resamples`` seeded resamples of ``values`` (with replacement): a percentile bootstrap's draws."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[idx].mean(axis=1)


def ratio_of_medians_ci(numerator, denominator, level: float = 0.95, resamples: int = 1000,
                        seed: int = 3) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(numerator) / median(denominator), each resampled on its own."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    rng = np.random.default_rng(seed)
    ratios = [np.median(rng.choice(numerator, numerator.size)) / np.median(rng.choice(denominator, denominator.size))
              for _ in range(resamples)]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)


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


def attainable_gflops(intensity, ceiling, bandwidth):
    """The roofline: min(compute ceiling, arithmetic intensity x memory bandwidth), elementwise (GFLOP/s for
    FLOP/byte and GB/s). NaN where an input is missing."""
    intensity, ceiling, bandwidth = (np.asarray(v, dtype=float) for v in (intensity, ceiling, bandwidth))
    return np.minimum(ceiling, intensity * bandwidth)
