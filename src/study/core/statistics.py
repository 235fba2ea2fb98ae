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


def bootstrap_mean_ci(values, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` with its percentile-bootstrap interval; NaNs for no values."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    tail = round(50 * (1 - level), 10)  # 2.5 for a 95% interval, exactly
    low, high = np.percentile(bootstrap_means(values, resamples, seed), [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


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


# --- tests and t intervals: every layer's, here (the bootstraps above, the t-based ones below) -------------------

def _t(probability: float, dof: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(probability, dof))


def detectable_per_half_width(level: float = 0.95, power: float = 0.80) -> float:
    """How many of a two-sided interval's half-widths an effect must be to be detected with ``power``: a 95%
    interval's half-width is 1.96 standard errors, an effect is detected with 80% power at 2.80 of them."""
    from scipy import stats

    z = stats.norm.ppf(1 - (1 - level) / 2)
    return float((z + stats.norm.ppf(power)) / z)


def mean_t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """The mean and its t interval; the mean thrice with fewer than 2 values or none apart."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    if len(data) < 2 or np.allclose(data, mean):
        return mean, mean, mean
    half = float(_t(1 - (1 - level) / 2, len(data) - 1) * data.std(ddof=1) / np.sqrt(len(data)))
    return mean, mean - half, mean + half


def welch_test(before, after) -> tuple[float, float]:
    """(t, two-sided p) of Welch's t-test of ``after`` against ``before``; NaN with fewer than 2 values in either
    or no variance at all, (0, 1) for the same values."""
    import warnings

    from scipy import stats

    a, b = np.asarray(before, float), np.asarray(after, float)
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return float("nan"), float("nan")
    if np.allclose(np.sort(a), np.sort(b)):  # the same values: no difference to test
        return 0.0, 1.0
    with warnings.catch_warnings():  # nearly equal samples: scipy warns of precision loss, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(b, a, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def paired_difference(before, after, level: float = 0.95, power: float = 0.80) -> dict:
    """A paired t-test of ``after - before``: the mean change, its interval, two-sided p and the smallest change
    this many pairs could have detected (``power``, at 1 - ``level``). NaN with fewer than 2 pairs."""
    from scipy import stats

    diff = np.asarray(after, float) - np.asarray(before, float)
    nan = {"mean": float(np.mean(diff)) if len(diff) else float("nan"), "low": float("nan"), "high": float("nan"),
           "p": float("nan"), "mde": float("nan")}
    if len(diff) < 2:
        return nan
    n, sd = len(diff), float(np.std(diff, ddof=1))
    se = sd / np.sqrt(n)
    t_two, t_power = _t(1 - (1 - level) / 2, n - 1), _t(power, n - 1)
    if sd == 0:
        p = 1.0 if np.all(diff == 0) else 0.0
    else:
        p = float(stats.ttest_rel(after, before).pvalue)
    return {"mean": float(np.mean(diff)), "low": float(np.mean(diff) - t_two * se),
            "high": float(np.mean(diff) + t_two * se), "p": p, "mde": float((t_two + t_power) * se)}


def projected_half_width(half_width: float, rounds: int, more: int, level: float = 0.95) -> float:
    """A paired t interval's half-width (on the log scale) after ``more`` rounds beyond its ``rounds``, if the rounds'
    spread stays what it is: the standard error shrinks as one over the root of the rounds, and the t quantile with
    the degrees of freedom."""
    import math

    if rounds < 2 or not math.isfinite(half_width):
        return math.inf
    alpha = 1.0 - level
    spread = half_width / _t(1 - alpha / 2, rounds - 1) * math.sqrt(rounds)
    total = rounds + max(more, 0)
    return _t(1 - alpha / 2, total - 1) * spread / math.sqrt(total)


def log_ratio_test(logs, level: float = 0.95, margin: float = 0.05, power: float = 0.80) -> dict:
    """Paired log ratios (one per round, at least 2): the ratio, its t interval at ``level``, whether two one-sided
    tests at 1 - ``level`` each put it inside [1 / (1 + margin), 1 + margin], and the smallest difference (as a
    share) these rounds detect with ``power``."""
    import math

    logs = np.asarray(logs, dtype=float)
    n = int(logs.size)
    mean = float(logs.mean())
    se = float(logs.std(ddof=1)) / math.sqrt(n)
    alpha = 1.0 - level
    t_two = _t(1 - alpha / 2, n - 1)
    t_one = _t(1 - alpha, n - 1)  # two one-sided tests at alpha each: the (1 - 2 alpha) interval
    inside = (math.exp(mean - t_one * se) >= 1 / (1 + margin)) and (math.exp(mean + t_one * se) <= 1 + margin)
    return {"ratio": math.exp(mean), "low": math.exp(mean - t_two * se), "high": math.exp(mean + t_two * se),
            "equivalent": inside, "detectable": 1.0 - math.exp(-(t_two + _t(power, n - 1)) * se)}


def idle_share(cycles: list[dict]) -> dict[str, float]:
    """Each worker's CPU time while idle, as a share of the wall time of the other contenders' bursts it sat through:
    0.01 is 1% of a CPU. Several threads of one worker spinning at once can exceed 1."""
    used: dict[str, float] = {}
    wall: dict[str, float] = {}
    for cycle in cycles:
        for burst in cycle["bursts"].values():
            for other, seconds in burst["idle_cpu_s"].items():
                used[other] = used.get(other, 0.0) + max(seconds, 0.0)
                wall[other] = wall.get(other, 0.0) + burst["wall_s"]
    return {name: used[name] / wall[name] for name in used if wall[name] > 0}
