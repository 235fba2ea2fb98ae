"""The 'which runtime should I ship' pick on known candidates, and the side-by-side figure for many profiles."""

import pandas as pd

from study.report.summary import pick_runtime

CANDIDATES = [
    {"runtime": "litert", "variant": "int8", "p50_ms": 3.0, "size_mb": 4.0, "drop_pp": 2.5, "group_drop_pp": 4.0},
    {"runtime": "onnxruntime", "variant": "fp32", "p50_ms": 5.0, "size_mb": 14.0, "drop_pp": 0.0, "group_drop_pp": 0.0},
    {"runtime": "executorch", "variant": "fp32", "p50_ms": 6.0, "size_mb": 14.0, "drop_pp": 0.0, "group_drop_pp": 0.0},
]


def test_pick_the_fastest_that_meets_every_constraint():
    pick = pick_runtime("m", "test", CANDIDATES, latency_budget=10, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert (pick["ship"], pick["variant"]) == ("onnxruntime", "fp32")  # litert int8 is faster but drops 2.5 pp
    # no rounds and no intervals: 20% apart, but a point value separates from nothing
    assert "ONNX Runtime is not told apart from ExecuTorch: no interval to compare" in pick["reason"]
    assert pick["outcome"] == "undetermined" and pick["runner_up"] == "executorch fp32"
    assert round(pick["margin_pct"], 6) == 20.0
    loose = pick_runtime("m", "test", CANDIDATES, latency_budget=10, size_budget=20, max_drop=3.0, max_group_drop=5.0)
    assert loose["ship"] == "litert"


def test_a_budget_no_candidate_meets_does_not_hide_the_answer():
    pick = pick_runtime("m", "test", CANDIDATES, latency_budget=1, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert pick["ship"] == "litert"  # the fastest, named with what it misses
    assert "misses the budgets: p50 3.00 ms > 1 ms; accuracy -2.50 pp > 1 pp" in pick["answer"]
    assert "no candidate meets every constraint" in pick["reason"] and pick["misses"]
    listed_slowest_first = pick_runtime("m", "test", CANDIDATES[::-1], latency_budget=1, size_budget=20, max_drop=1.0,
                                        max_group_drop=2.0)
    assert listed_slowest_first["ship"] == "litert"  # not whichever was listed first


def test_a_gain_is_not_shown_as_a_negative_drop():
    gained = [{**CANDIDATES[1], "drop_pp": -0.0, "group_drop_pp": -0.4}]
    pick = pick_runtime("m", "test", gained, latency_budget=10, size_budget=20, max_drop=1.0, max_group_drop=2.0)
    assert "accuracy drop 0.00 pp (worst group 0.00 pp)" in pick["reason"]


def _timed(runtime, p50, low, high):
    return {"runtime": runtime, "variant": "fp32", "p50_ms": p50, "ci_low_ms": low, "ci_high_ms": high,
            "size_mb": 14.0, "drop_pp": None, "group_drop_pp": None}


def _rounds(runtime, rounds):
    return {**_timed(runtime, sorted(rounds)[len(rounds) // 2], min(rounds), max(rounds)), "rounds": rounds,
            "block": "latency"}


def test_the_pick_is_judged_on_paired_rounds_with_one_of_three_outcomes():
    # the MobileNetV2 rounds: intervals overlap (a tie by the old rule), every round says LiteRT
    measured = [_rounds("litert", [7.62, 9.52, 7.99]), _rounds("onnxruntime", [9.48, 11.06, 9.25])]
    pick = pick_runtime("mobilenet_v2", "fp32", measured, 20, 20, 1.0, 2.0)
    assert pick["ship"] == "litert" and pick["outcome"] == "faster" and pick["rounds"] == 3
    assert pick["answer"] == "LiteRT (TFLite), 16% faster than ONNX Runtime [7, 24], 3 of 3 rounds"
    assert "fidelity-checked against its source, accuracy not measured" in pick["reason"]
    assert "0.00 pp" not in pick["reason"]  # fp32 zoo models have no measured accuracy drop
    # the same speed round after round: equivalent, by its own test
    same = [_rounds("litert", [10.0, 10.2, 9.9, 10.1, 10.0]), _rounds("onnxruntime", [10.05, 10.2, 9.95, 10.1, 10.02])]
    assert pick_runtime("m", "fp32", same, 20, 20, 1, 2)["outcome"] == "equivalent"
    # rounds that disagree: undetermined, with what they could have detected
    noisy = [_rounds("litert", [10.0, 12.0, 9.0]), _rounds("onnxruntime", [11.0, 10.0, 10.5])]
    unsure = pick_runtime("m", "fp32", noisy, 20, 20, 1, 2)
    assert unsure["outcome"] == "undetermined" and "these rounds detect a" in unsure["answer"]
    # no shared rounds: overlapping intervals are undetermined, separate ones faster
    apart = [_timed("litert", 10.0, 9.9, 10.1), _timed("onnxruntime", 12.0, 11.8, 12.2)]
    alone = pick_runtime("m", "fp32", apart, 20, 20, 1, 2)
    assert alone["outcome"] == "faster" and alone["runner_up"] == "onnxruntime fp32" and alone["rounds"] == 0
    overlap = [_timed("onnxruntime", 10.60, 10.50, 10.70), _timed("litert", 10.58, 10.45, 10.66)]
    assert pick_runtime("m", "fp32", overlap, 20, 20, 1, 2)["outcome"] == "undetermined"


def test_findings_are_computed_from_the_measurements(study_root):
    from helpers import write_profile
    from study.core import paths
    from study.report import summary

    write_profile(study_root, "two")
    rows = []
    for threads, times in ((1, {"litert": 10.0, "onnxruntime": 12.0, "torch_eager": 40.0}),
                           (2, {"litert": 9.0, "onnxruntime": 6.5, "torch_eager": 21.0})):
        for model, scale in (("mobilenet_v2", 1.0), ("resnet18", 3.0)):
            for runtime, p50 in times.items():
                p50 = p50 * scale * (0.5 if (model, runtime) == ("resnet18", "onnxruntime") else 1)
                rows.append({"model": model, "runtime": runtime, "threads": threads, "batch": 1, "status": "ok",
                             "p50_ms": p50, "ci_low_ms": p50 * 0.99, "ci_high_ms": p50 * 1.01,
                             "rss_peak_mib": {"litert": 90, "onnxruntime": 110, "torch_eager": 700}[runtime],
                             "machine": "box"})
    directory = paths.results_dir("two")
    directory.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(directory / "latency.csv", index=False)
    found = summary.findings(["two"])
    assert 3 <= len(found) <= 5
    assert found[0].startswith("The largest gap: on resnet18 (two, 1 thread(s)), PyTorch eager takes 6.7x")
    assert any(f.startswith("ONNX Runtime is fastest (or not shown slower than the fastest) on every model of two") for f in found)
    assert any("From 1 to 2 threads on mobilenet_v2, the fastest changes from LiteRT (TFLite) to ONNX Runtime" in f
               and "ranges from 1.11x (LiteRT (TFLite)) to 1.90x (PyTorch eager)." in f for f in found)
    assert any(f.startswith("Memory: running") and "90 MiB in LiteRT" in f and "700 MiB in PyTorch eager" in f
               for f in found)


def test_side_by_side_figure_takes_any_number_of_profiles(study_root):
    from study.report import plots

    rows = [{"profile": f"p{i}", "machine": "m", "model": "x", "runtime": "litert", "p50_ms_min_threads": 1.0 + i}
            for i in range(25)]
    assert plots.cross_profile(pd.DataFrame(rows)) is not None


def test_a_shipped_file_gets_its_own_pick_among_its_quantized_variants_judged_by_task_fidelity(study_root):
    from helpers import write_profile
    from study.core import paths
    from study.report import summary

    write_profile(study_root, "ship")
    directory = paths.results_dir("ship")
    directory.mkdir(parents=True)

    def timed(model, runtime, p50, **extra):
        return {"model": model, "runtime": runtime, "variant": "fp32", "threads": 1, "batch": 1, "status": "ok",
                "artifact_status": "ok", "p50_ms": p50, "ci_low_ms": p50 * 0.99, "ci_high_ms": p50 * 1.01,
                "artifact_bytes": 230_000, **extra}

    pd.DataFrame([timed("blazeface", "litert", 1.5), timed("blazeface", "onnxruntime", 2.5),
                  timed("mobilenet_v2", "litert", 3.0)]).to_csv(directory / "latency.csv", index=False)
    pd.DataFrame([timed("blazeface", "litert", 1.6, scheme="fp32", dataset="shipped"),
                  timed("blazeface", "litert", 0.9, scheme="int8", dataset="shipped", artifact_bytes=90_000),
                  timed("blazeface", "onnxruntime", 1.0, scheme="qdq-int8-channel", dataset="shipped"),
                  timed("blazeface", "executorch", 1.1, scheme="pt2e-int8", dataset="shipped")]) \
        .to_csv(directory / "quant_latency.csv", index=False)
    pd.DataFrame([{"model": "blazeface", "runtime": "litert", "scheme": "int8", "status": "ok",
                   "task_fidelity": 0.96},
                  {"model": "blazeface", "runtime": "onnxruntime", "scheme": "qdq-int8-channel", "status": "ok",
                   "task_fidelity": 0.04}]).to_csv(directory / "quant_shipped.csv", index=False)

    budgets = {"latency_budget_ms": 20, "size_budget_mb": 20, "max_accuracy_drop_pp": 1, "max_group_drop_pp": 2}
    assert summary.recommend("ship", **budgets)["model"].tolist() == ["mobilenet_v2"]  # the file is not a zoo pick
    strict = summary.recommend_shipped("ship", **budgets).iloc[0]
    # LiteRT int8 lost 4 points of box F1, ORT's int8 96, ExecuTorch's was never judged: the fp32 file wins
    assert (strict["model"], strict["ship"], strict["variant"]) == ("blazeface", "litert", "fp32")
    assert "trained file" in strict["basis"]
    loose = summary.recommend_shipped("ship", **{**budgets, "max_accuracy_drop_pp": 5}).iloc[0]
    assert (loose["ship"], loose["variant"]) == ("litert", "int8")
    assert "task fidelity drop 4.00 pp" in loose["reason"] and "worst group" not in loose["reason"]
    # the file in LiteRT and its int8 variant, timed in two phases, within each other's intervals: undetermined,
    # naming both variants (one runtime, two of its variants)
    pd.DataFrame([timed("blazeface", "litert", 1.5), timed("blazeface", "onnxruntime", 2.5)]) \
        .assign(ci_low_ms=[0.8, 2.4], ci_high_ms=[2.0, 2.6]).to_csv(directory / "latency.csv", index=False)
    close = summary.recommend_shipped("ship", **{**budgets, "max_accuracy_drop_pp": 5}).iloc[0]
    assert (close["ship"], close["variant"], close["outcome"]) == ("litert", "int8", "undetermined")
    assert summary.pick_view(pd.DataFrame([close]))["ship"].iloc[0].startswith(
        "LiteRT (TFLite) int8, not told apart from LiteRT (TFLite) fp32")
    none = summary.recommend_shipped("ship", **{**budgets, "latency_budget_ms": 0.5}).iloc[0]
    assert none["ship"] == "litert" and "misses the budgets: p50" in none["answer"]
    from study.report import landing

    page = landing._answer("ship", budgets)  # the landing page's answer names the shipped models it has, no others
    assert "<h4>Trained models people ship (blazeface)</h4>" in page
