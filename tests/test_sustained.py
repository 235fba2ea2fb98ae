"""Sustained load: the first-tenth / last-tenth ratio, its verdict, and the throughput series."""

import numpy as np
import pandas as pd

from study.measure.sustained import series, tenth_ratio, verdict


def run(slowdown: float, seconds: float = 10.0, rate: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    offsets = np.linspace(0, seconds, int(seconds * rate), endpoint=False)
    samples = 5.0 * np.where(offsets >= 0.9 * seconds, slowdown, 1.0) * rng.lognormal(0, 0.02, offsets.size)
    return samples, offsets


def row(ratio: dict, **label) -> dict:
    return {"model": "m", "runtime": "r", "seconds": 10.0, "status": "ok", "contended": False, **ratio, **label}


def test_a_throttled_run_is_called_slowed_down():
    ratio = tenth_ratio(*run(1.25), seconds=10.0)
    assert ratio["last_over_first"] > 1.2 and ratio["ratio_ci_low"] > 1.05
    assert "slowed down" in verdict(pd.DataFrame([row(ratio)]))


def test_a_steady_run_holds_its_rate():
    ratio = tenth_ratio(*run(1.0), seconds=10.0)
    assert ratio["ratio_ci_low"] < 1.0 < ratio["ratio_ci_high"] or abs(ratio["last_over_first"] - 1) < 0.01
    assert "held its rate within 5%" in verdict(pd.DataFrame([row(ratio)]))


def test_series_counts_every_call_once():
    samples, offsets = run(1.0)
    windows = series(samples, offsets, 10.0, windows=10)
    assert sum(w["calls"] for w in windows) == len(samples)
    assert windows[0]["throughput_ips"] == 200


def test_the_tiny_study_runs_its_fastest_runtime(tiny_study):
    from study.measure.sustained import load_sustained

    table, windows = load_sustained("tiny")
    latency = pd.read_csv(tiny_study / "results" / "tiny" / "latency.csv")
    batch1 = latency[latency["batch"] == 1]
    assert table["status"].tolist() == ["ok"]
    assert table["runtime"].iloc[0] == batch1.loc[batch1["p50_ms"].idxmin(), "runtime"]
    assert table["calls"].iloc[0] == windows["calls"].sum() and table["last_over_first"].iloc[0] > 0
