"""The 'which runtime should I ship' pick on known candidates, and the side-by-side figure for many profiles."""

import pandas as pd

from study.summary import pick_runtime

CANDIDATES = [
    {"runtime": "litert", "variant": "int8", "p50_ms": 3.0, "size_mb": 4.0, "drop_pp": 2.5, "group_drop_pp": 4.0},
    {"runtime": "onnxruntime", "variant": "fp32", "p50_ms": 5.0, "size_mb": 14.0, "drop_pp": 0.0, "group_drop_pp": 0.0},
    {"runtime": "executorch", "variant": "fp32", "p50_ms": 6.0, "size_mb": 14.0, "drop_pp": 0.0, "group_drop_pp": 0.0},
]


def test_pick_the_fastest_that_meets_every_constraint():
    pick = pick_runtime("m", "test", CANDIDATES, latency_budget=10, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert (pick["ship"], pick["variant"]) == ("onnxruntime", "fp32")  # litert int8 is faster but drops 2.5 pp
    assert "next executorch fp32" in pick["reason"]
    loose = pick_runtime("m", "test", CANDIDATES, latency_budget=10, size_budget=20, max_drop=3.0, max_group_drop=5.0)
    assert loose["ship"] == "litert"


def test_no_candidate_says_why():
    pick = pick_runtime("m", "test", CANDIDATES, latency_budget=1, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert pick["ship"] == "none" and "p50" in pick["reason"] and "> 1 ms" in pick["reason"]
    assert "closest onnxruntime fp32" in pick["reason"]  # one broken constraint, and faster than executorch
    listed_slowest_first = pick_runtime("m", "test", CANDIDATES[::-1], latency_budget=1, size_budget=20, max_drop=1.0,
                                 max_group_drop=2.0)
    assert "closest onnxruntime fp32" in listed_slowest_first["reason"]  # not whichever was listed first


def test_a_gain_is_not_shown_as_a_negative_drop():
    gained = [{**CANDIDATES[1], "drop_pp": -0.0, "group_drop_pp": -0.4}]
    pick = pick_runtime("m", "test", gained, latency_budget=10, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert "accuracy drop 0.00 pp (worst group 0.00 pp)" in pick["reason"]


def test_side_by_side_figure_takes_any_number_of_profiles(study_root):
    from study import plots

    rows = [{"profile": f"p{i}", "machine": "m", "model": "x", "runtime": "litert", "p50_ms_min_threads": 1.0 + i}
            for i in range(25)]
    assert plots.cross_profile(pd.DataFrame(rows)) is not None
