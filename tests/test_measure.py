import time

import numpy as np
import pytest

from study.core.statistics import bootstrap_ci, summarize
from study.measure.timing import timed_runs


def test_summary_of_known_samples():
    stats = summarize(np.arange(1, 101, dtype=float), batch=4)
    assert stats["n_runs"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p90_ms"] == pytest.approx(90.1)
    assert stats["p99_ms"] == pytest.approx(99.01)
    assert stats["mean_ms"] == pytest.approx(50.5)
    assert stats["std_ms"] == pytest.approx(np.sqrt(841.6666667))
    assert stats["cv"] == pytest.approx(stats["std_ms"] / 50.5)
    assert stats["min_ms"] == 1.0
    assert stats["throughput_ips"] == pytest.approx(4 * 1000 / 50.5)
    assert stats["high_dispersion"] is True  # cv ~ 0.57
    assert stats["ci_low_ms"] < 50.5 < stats["ci_high_ms"]


def test_constant_samples_have_no_spread():
    stats = summarize([2.0] * 50)
    assert stats["cv"] == 0.0
    assert stats["ci_low_ms"] == stats["ci_high_ms"] == 2.0
    assert stats["high_dispersion"] is False


def test_dispersion_flag_threshold():
    rng = np.random.default_rng(1)
    assert summarize(rng.normal(10, 0.5, 2000))["high_dispersion"] is False  # cv ~ 0.05
    assert summarize(rng.normal(10, 2.0, 2000))["high_dispersion"] is True   # cv ~ 0.2


def test_bootstrap_ci_covers_the_median_and_narrows_with_more_samples():
    rng = np.random.default_rng(7)
    small, large = rng.normal(10, 1, 100), rng.normal(10, 1, 10_000)
    low_s, high_s = bootstrap_ci(small)
    low_l, high_l = bootstrap_ci(large)
    assert low_s < 10 < high_s and low_l < 10 < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5  # width ~ 1/sqrt(n): 10x narrower expected
    assert bootstrap_ci(small) == (low_s, high_s)  # seeded: reruns agree


def test_bootstrap_coverage_is_near_nominal():
    rng = np.random.default_rng(3)
    covered = sum(lo <= 0.0 <= hi for lo, hi in (bootstrap_ci(rng.normal(0, 1, 200), resamples=500, seed=s)
                                                 for s in range(200)))
    assert 0.88 <= covered / 200 <= 0.99


def test_timed_runs_reaches_minimum_count():
    samples = timed_runs(lambda: None, min_runs=50, min_seconds=0.0, max_seconds=10)
    assert len(samples) == 50
    assert all(s >= 0 for s in samples)


def test_timed_runs_reaches_minimum_time():
    started = time.perf_counter()
    samples = timed_runs(lambda: time.sleep(0.002), min_runs=1, min_seconds=0.05, max_seconds=10)
    assert time.perf_counter() - started >= 0.05
    assert len(samples) >= 10
    assert min(samples) >= 2.0


def test_timed_runs_stops_at_maximum_time():
    samples = timed_runs(lambda: time.sleep(0.01), min_runs=10_000, min_seconds=0.0, max_seconds=0.05)
    assert 1 <= len(samples) < 20


def test_summary_needs_samples():
    with pytest.raises(ValueError):
        summarize([])
