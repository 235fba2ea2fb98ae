"""A rerun's agreement with the first run's picks, and the rounds trade-off's table, on synthetic records."""

import numpy as np
import pandas as pd
import pytest


def record(runtime, p50s, model="m", threads=1, batch=1):
    return {"case_id": f"{model}-{runtime}", "status": "ok",
            "inputs": {"model": model, "runtime": runtime, "threads": threads, "batch": batch},
            "row": {}, "replicates": [{"status": "ok", "samples_ms": [p] * 5} for p in p50s]}


def run(seed, gap, drift=(1.0, 1.3, 1.0, 1.1)):
    """Two runtimes, B ``gap`` times A, under a drift common to both in each round, plus a little own noise."""
    rng = np.random.default_rng(seed)
    a = [5.0 * d * np.exp(rng.normal(0, 0.01)) for d in drift]
    b = [5.0 * gap * d * np.exp(rng.normal(0, 0.01)) for d in drift]
    return [record("A", a), record("B", b)]


def test_a_rerun_that_says_the_same_confirms_and_one_that_reverses_does_not():
    from study.analyze.agreement import agreement, headline

    table = agreement(run(1, 1.2), run(2, 1.2))
    assert table.loc[0, "pick"] == "A" and table.loc[0, "outcome"] == "faster"
    assert bool(table.loc[0, "confirmed"])
    reversed_ = agreement(run(1, 1.2), run(2, 1 / 1.2))
    assert reversed_.loc[0, "second_pick"] == "B" and not bool(reversed_.loc[0, "confirmed"])
    assert headline(reversed_).startswith("0 of 1 decided picks confirmed")


def test_a_rerun_too_noisy_to_decide_keeps_the_pick_but_not_the_outcome():
    from study.analyze.agreement import agreement, headline

    noisy = [record("A", [5.0, 5.9, 4.7]), record("B", [5.4, 5.5, 5.6])]  # A ahead, not decided
    table = agreement(run(1, 1.2), noisy)
    assert table.loc[0, "second_pick"] == "A" and table.loc[0, "second_outcome"] == "undetermined"
    assert bool(table.loc[0, "confirmed"]) and not bool(table.loc[0, "same_outcome"])
    assert headline(table).startswith("1 of 1 decided picks confirmed by the rerun (100%; 0 with the same outcome)")


def test_an_undetermined_first_call_is_not_counted():
    from study.analyze.agreement import agreement, headline

    noisy = [record("A", [5.0, 5.6, 4.8]), record("B", [5.1, 5.2, 5.3])]
    table = agreement(noisy, run(2, 1.2))
    assert table.loc[0, "outcome"] == "undetermined" and pd.isna(table.loc[0, "confirmed"])
    assert "0 of 0 decided picks" in headline(table) and "1 of 1 undetermined" in headline(table)


def test_equivalent_runtimes_are_confirmed_whichever_comes_first():
    from study.analyze.agreement import agreement

    table = agreement(run(3, 1.005), run(4, 0.995))
    assert table.loc[0, "outcome"] == "equivalent" and bool(table.loc[0, "confirmed"])


def test_a_design_names_its_processes_and_seconds_and_refuses_nonsense():
    from study.phases.tradeoff import Design

    assert Design.parse("6x0.25") == Design(6, 0.25, 1) and Design.parse("3x1s").name == "3x1s"
    for bad in ("six", "1x1", "3x0", "3x-1"):
        with pytest.raises(ValueError, match="design"):
            Design.parse(bad)


def test_the_tradeoff_summary_scales_precision_to_the_same_time():
    from study.phases.tradeoff import summary

    frame = pd.DataFrame({"design": ["3x1s", "3x1s", "6x0.25s", "6x0.25s"], "wall_s": [100.0, 100.0, 25.0, 25.0],
                          "half_width_pct": [4.0, 4.0, 6.0, 6.0],
                          "outcome": ["faster", "undetermined", "faster", "faster"]})
    per = summary(frame).set_index("design")
    assert per.loc["3x1s", "half_width_at_same_time_pct"] == pytest.approx(4.0)
    assert per.loc["6x0.25s", "half_width_at_same_time_pct"] == pytest.approx(3.0)  # 6 * sqrt(25 / 100)
    assert per.loc["3x1s", "decided"] == 0.5


def test_two_runs_agree_when_their_difference_lies_within_both_intervals():
    """A rerun's ratio just outside the first interval is no disagreement: both carry noise. Consistent when the
    difference of the log ratios lies within the two half-widths combined; not when it is far beyond."""
    from study.analyze.agreement import _between
    from study.analyze.comparisons import Comparison

    first = Comparison("a", "b", 5, 0.80, 0.77, 0.83, "faster", 0, 3.0, unit="sets of fresh workers")
    near = Comparison("a", "b", 5, 0.845, 0.81, 0.88, "faster", 0, 3.0, unit="sets of fresh workers")
    far = Comparison("a", "b", 5, 0.95, 0.92, 0.98, "faster", 0, 3.0, unit="sets of fresh workers")
    assert _between(first, near) == {"inside_first": False, "consistent": True}
    assert _between(first, far) == {"inside_first": False, "consistent": False}
    assert _between(first, None) == {"inside_first": None, "consistent": None}
