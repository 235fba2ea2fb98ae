"""Paired comparisons on synthetic rounds: the interval covers the true ratio at its nominal rate under a drift
common to both contenders, where the unpaired overlap rule calls a tie; equivalence needs its own test; and
"undetermined" says what the rounds could have detected."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from study.analyze.comparisons import (EQUIVALENT, FASTER, SLOWER, UNDETERMINED, compare, compare_records,
                                      half_width_pct)


def rounds(rng, n, ratio, drift=0.15, noise=0.02, base=8.0):
    """p50s of A and B in ``n`` rounds: each round's slow spell multiplies both by the same factor."""
    spell = np.exp(rng.normal(0, drift, n))
    a = base * ratio * spell * np.exp(rng.normal(0, noise, n))
    b = base * spell * np.exp(rng.normal(0, noise, n))
    return a, b


def overlap_tie(a, b):
    """The old rule: a tie when the two 95% intervals (over rounds, unpaired) overlap."""
    def interval(x):
        half = 1.96 * np.std(x, ddof=1) / math.sqrt(len(x))
        return x.mean() - half, x.mean() + half
    (a_low, a_high), (b_low, b_high) = interval(a), interval(b)
    return a_low <= b_high and b_low <= a_high


def test_the_paired_interval_covers_the_true_ratio_where_overlap_calls_a_tie():
    rng = np.random.default_rng(0)
    trials, covered, decided, ties = 400, 0, 0, 0
    for _ in range(trials):
        a, b = rounds(rng, 5, ratio=0.85)
        found = compare("A", "B", a, b)
        covered += found.low <= 0.85 <= found.high
        decided += found.outcome == FASTER
        ties += overlap_tie(a, b)
    assert 0.92 <= covered / trials <= 0.98  # nominal 95%
    assert decided / trials >= 0.95          # the paired test sees the 15% almost always
    assert ties / trials >= 0.5              # while the overlap rule calls most of them a tie


def test_equivalence_is_its_own_outcome_and_needs_the_evidence():
    rng = np.random.default_rng(1)
    a, b = rounds(rng, 8, ratio=1.0, noise=0.005)
    same = compare("A", "B", a, b)
    assert same.outcome == EQUIVALENT and "equivalent within ±5%" in same.sentence()
    a, b = rounds(rng, 3, ratio=1.0, noise=0.08)
    unsure = compare("A", "B", a, b)
    assert unsure.outcome == UNDETERMINED  # not "equivalent" just because no difference was found
    assert unsure.detectable_pct > 5 and "detect a" in unsure.sentence()


def test_a_slower_contender_reads_slower_and_one_round_decides_nothing():
    rng = np.random.default_rng(2)
    a, b = rounds(rng, 6, ratio=1.3)
    slower = compare("A", "B", a, b)
    assert slower.outcome == SLOWER and re.match(r"A is (2[5-9]|3[0-5])% slower than B \[", slower.sentence())
    assert compare("A", "B", [5.0], [6.0]).outcome == UNDETERMINED
    assert math.isnan(half_width_pct(compare("A", "B", [5.0], [6.0])))


def test_the_sentence_names_the_difference_its_interval_and_the_rounds():
    found = compare("LiteRT", "ONNX Runtime", [7.62, 9.52, 7.99], [9.48, 11.06, 9.25])
    assert found.outcome == FASTER and found.wins == 3
    words = found.sentence()
    assert words.startswith("LiteRT is 1") and "% faster than ONNX Runtime [" in words and "3 of 3 rounds" in words


def test_mismatched_rounds_are_refused():
    with pytest.raises(ValueError, match="one of each contender per round"):
        compare("A", "B", [1.0, 2.0], [1.0])


def test_a_claimed_order_is_judged_on_paired_rounds_where_they_exist():
    from study.analyze import verdicts

    values = {"litert": (8.0, 7.6, 9.5), "onnxruntime": (9.5, 9.2, 11.0)}  # the intervals overlap
    assert verdicts.order(["litert", "onnxruntime"], values).outcome == verdicts.NOT_DETECTED
    paired = {("litert", "onnxruntime"): compare("litert", "onnxruntime", [7.62, 9.52, 7.99], [9.48, 11.06, 9.25])}
    judged = verdicts.order(["litert", "onnxruntime"], values, paired=paired)
    assert judged.outcome == verdicts.SUPPORTED and "paired rounds" in judged.why
    reversed_ = {("onnxruntime", "litert"): compare("onnxruntime", "litert", [9.48, 11.06, 9.25], [7.62, 9.52, 7.99])}
    assert verdicts.order(["onnxruntime", "litert"], values, paired=reversed_).outcome == verdicts.CONTRADICTED


def test_a_quantized_variant_s_speedup_is_paired_with_its_twin_s_rounds():
    from study.analyze.quant_tables import speedup_columns

    timed = pd.DataFrame([{"case_id": "q", "scheme": "int8", "p50_ms": 5.0, "ci_low_ms": 4.0, "ci_high_ms": 7.0},
                          {"case_id": "f", "scheme": "fp32", "p50_ms": 8.0, "ci_low_ms": 6.5, "ci_high_ms": 10.0}])
    timed.attrs["rounds"] = {"q": [5.0, 6.0, 5.1], "f": [8.0, 9.6, 8.2]}  # a slow second round for both
    paired = speedup_columns(timed, "int8")
    assert paired["speedup_ci_low"] > 1.5 and paired["speedup"] == pytest.approx(1.6, rel=0.01)
    timed.attrs["rounds"] = {}
    assert speedup_columns(timed, "int8")["speedup_ci_low"] == pytest.approx(6.5 / 7.0)  # the intervals' range
