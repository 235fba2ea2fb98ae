"""The verdict logic on hand-made evidence: each of the five outcomes, and the claims built on it."""

import numpy as np
import pandas as pd
import pytest

from study.analyze import verdicts as v


def test_a_bound_claim_is_supported_by_any_value_up_to_the_bound():
    assert v.at_most(2.0, 0.3, 0.1, 0.6).outcome == v.SUPPORTED          # a smaller drop does not contradict it
    assert v.at_most(2.0, 1.9, 1.5, 2.0).outcome == v.SUPPORTED
    assert v.at_most(2.0, 4.0, 3.1, 5.0).outcome == v.CONTRADICTED
    undecided = v.at_most(2.0, 1.8, 0.5, 3.1, " pp")
    assert undecided.outcome == v.NOT_DETECTED and "detects an excess of" in undecided.why


def test_a_value_claim_holds_within_its_margin():
    assert v.about(3.0, 0.2, 2.9, 2.7, 3.1).outcome == v.SUPPORTED
    assert v.about(3.0, 0.2, 1.2, 1.1, 1.3).outcome == v.CONTRADICTED   # clear of 2.4-3.6
    assert v.about(3.0, 0.2, 4.0, 3.8, 4.4).outcome == v.CONTRADICTED
    wide = v.about(3.0, 0.2, 2.0, 1.0, 4.0)                              # reaches the band, estimate outside
    assert wide.outcome == v.NOT_DETECTED and "resolves differences of" in wide.why


def test_an_effect_claim_needs_an_interval_clear_of_zero_and_the_margin():
    assert v.effect(1.0, -2.5, -3.5, -1.5).outcome == v.SUPPORTED
    assert v.effect(1.0, -0.5, -1.5, -0.1).outcome == v.NOT_DETECTED     # excludes zero, below the margin
    assert v.effect(1.0, 0.1, -0.4, 0.5).outcome == v.CONTRADICTED       # shown to be smaller than the margin
    wide = v.effect(1.0, -0.5, -3.0, 2.0, " pp")
    assert wide.outcome == v.NOT_DETECTED
    # the smallest detectable effect: (1.96 + 0.84) standard errors, a half-width being 1.96 of them
    assert f"{v.smallest_detectable(-3.0, 2.0):.2g} pp" in wide.why
    assert v.smallest_detectable(-1.0, 1.0) == pytest.approx((1.959964 + 0.841621) / 1.959964, rel=1e-5)


def test_an_order_claim_counts_only_separated_steps():
    values = {"a": (1.0, 0.9, 1.1), "b": (2.0, 1.9, 2.1), "c": (3.0, 2.9, 3.1)}
    assert v.order(["a", "b", "c"], values).outcome == v.SUPPORTED
    assert v.order(["c", "b", "a"], values).outcome == v.CONTRADICTED
    overlapping = {**values, "b": (1.05, 0.95, 1.3)}
    assert v.order(["a", "b", "c"], overlapping).outcome == v.NOT_DETECTED
    assert v.order(["a", "b", "c"], overlapping, margin=0.01).outcome == v.SUPPORTED  # a stated margin decides
    assert v.order(["a", "b", "x"], values).outcome == v.NOT_TESTABLE


def test_point_values_separate_only_by_the_margin():
    peaks = {"a": (100.0,) * 3, "b": (103.0,) * 3, "c": (150.0,) * 3}  # one reading each: no interval to separate
    found = v.order(["a", "b", "c"], peaks)
    assert found.outcome == v.NOT_DETECTED and "a vs b" in found.why
    assert v.order(["a", "b", "c"], peaks, margin=0.10).outcome == v.NOT_DETECTED  # 3% is inside the 10% margin
    assert v.order(["a", "c"], peaks, margin=0.10).outcome == v.SUPPORTED
    assert v.order(["c", "a"], peaks, margin=0.10).outcome == v.CONTRADICTED


def test_not_comparable_names_both_sides():
    assert v.comparable("phones", None) is None
    found = v.comparable("MobileNet-class models at 224x224", "16x16 networks only")
    assert found.outcome == v.NOT_COMPARABLE and "224x224" in found.why and "16x16" in found.why


def _summary(**changes) -> pd.DataFrame:
    row = {"dataset": "zoo", "model": "mobilenet_v2", "input_side": 224, "runtime": "onnxruntime",
           "scheme": "qdq-int8-channel", "precision": "int8", "status": "ok", "acc": np.nan, "delta_pp": np.nan,
           "size_reduction_pct": 74.0, "speedup": 2.9, "speedup_ci_low": 2.7, "speedup_ci_high": 3.1,
           "cpu_isa": "avx2", "worst_group_delta_pp": np.nan}
    return pd.DataFrame([{**row, **changes}])


def _verdict(claims: pd.DataFrame, word: str) -> str:
    return claims.loc[claims["claim"].str.contains(word), "verdict"].iloc[0]


def test_the_article_claims_on_hand_made_summaries():
    from study.analyze.quant_verdicts import article_claims

    full = article_claims(_summary())
    assert _verdict(full, "3x") == v.SUPPORTED and _verdict(full, "75%") == v.SUPPORTED
    assert "mobilenet_v2/onnxruntime/qdq-int8-channel" in full.loc[0, "measured"]    # evidence row by row
    assert _verdict(full, "2%") == v.NOT_TESTABLE                               # no trained model: no accuracy
    assert _verdict(article_claims(_summary(speedup=1.1, speedup_ci_low=1.0, speedup_ci_high=1.2)), "3x") \
        == v.CONTRADICTED
    small = article_claims(_summary(input_side=16, dataset="digits", acc=0.98, delta_pp=-0.4,
                                    delta_ci_low_pp=-0.9, delta_ci_high_pp=0.1, worst_group_delta_pp=-0.5,
                                    worst_group_delta_ci_low_pp=-1.2, worst_group_delta_ci_high_pp=0.2))
    assert _verdict(small, "3x") == v.NOT_COMPARABLE and _verdict(small, "75%") == v.NOT_COMPARABLE
    assert _verdict(small, "2%") == v.SUPPORTED                               # a 0.4 pp drop is within "only 2%"
    assert _verdict(small, "bias") == v.CONTRADICTED                           # -0.1 pp beyond overall, CI within ±1
    assert set(article_claims(_summary().iloc[0:0])["verdict"]) == {v.NOT_TESTABLE}


def test_speed_is_looked_up_per_dataset(monkeypatch):
    """One model name is a different network on each dataset: a dataset's rows never borrow another's speed."""
    from study.plan.profiles import load_profile
    from study.analyze import quant_tables as tables

    labels, groups = [0, 1, 0, 1], {"class": ["0", "1", "0", "1"], "ink": ["a", "a", "b", "b"]}

    def build(dataset):
        variant = {"status": "ok", "predictions": labels, "bytes": 100, "runtime": "onnxruntime", "precision": "int8",
                   "scheme": "dynamic-int8"}
        return {"status": "ok", "build": {"dataset": dataset, "model": "plain_cnn", "labels": labels, "groups": groups,
                                          "framework": "torch", "seed": 0,
                                          "variants": {"onnxruntime/fp32": {**variant, "bytes": 400, "scheme": "fp32",
                                                                            "precision": "fp32"},
                                                       "onnxruntime/dynamic-int8": variant}}}

    monkeypatch.setattr(tables, "_builds", lambda profile: [build("digits"), build("tones")])
    speed = pd.DataFrame([{"dataset": "digits", "model": "plain_cnn", "runtime": "onnxruntime", "scheme": s,
                           "p50_ms": p, "ci_low_ms": p * 0.9, "ci_high_ms": p * 1.1}
                          for s, p in [("fp32", 2.0), ("dynamic-int8", 1.0)]])
    profile = load_profile("ci")
    summary = tables.summary_rows(profile, tables.group_rows(profile), speed).set_index(["dataset", "scheme"])
    assert summary.loc[("digits", "dynamic-int8"), "speedup"] == pytest.approx(2.0)
    assert summary.loc[("digits", "dynamic-int8"), "speedup_ci_low"] == pytest.approx(0.9 * 2.0 / 1.1)
    assert pd.isna(summary.loc[("tones", "dynamic-int8"), "speedup"])        # tones was not timed: no speed


def test_holm_and_the_paired_test_across_seeds():
    from study.analyze import quant_metrics as metrics

    adjusted = metrics.holm([0.01, 0.04, np.nan, 0.03])
    assert np.allclose(adjusted[[0, 1, 3]], [0.03, 0.06, 0.06]) and np.isnan(adjusted[2])
    fp32 = [0.90, 0.91, 0.92, 0.93, 0.94]
    dropped = [a - 0.02 + e for a, e in zip(fp32, [0.001, -0.001, 0.002, 0.0, -0.002])]
    test = metrics.paired(fp32, dropped)
    assert test["paired_mean"] == pytest.approx(-0.02) and test["paired_p"] < 0.001
    assert test["paired_ci_low"] < -0.02 < test["paired_ci_high"] < 0 and 0 < test["paired_mde"] < 0.01
    assert np.isnan(metrics.paired([0.9], [0.8])["paired_p"])      # one seed: no test


def test_a_bias_the_seeds_do_not_confirm_is_not_detected():
    from study.analyze.quant_verdicts import article_claims

    hurt = dict(input_side=16, dataset="tones", acc=0.95, delta_pp=-0.2, delta_ci_low_pp=-0.5, delta_ci_high_pp=0.1,
                worst_group_delta_pp=-3.0, worst_group_delta_ci_low_pp=-4.5, worst_group_delta_ci_high_pp=-1.8)
    assert _verdict(article_claims(_summary(**hurt)), "bias") == v.SUPPORTED
    unconfirmed = article_claims(_summary(**hurt, worst_group_paired_p_holm=0.3, worst_group_paired_mde_pp=4.0))
    assert _verdict(unconfirmed, "bias") == v.NOT_DETECTED
    assert "Holm" in unconfirmed.loc[unconfirmed["claim"].str.contains("bias"), "measured"].iloc[0]
