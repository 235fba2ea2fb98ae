"""The full-size route on a tiny zoo model: every quantizer makes a runnable artifact, and fidelity is computed
against the fp32 twin of the same runtime."""

import numpy as np
import pytest

from study.build.quant import zoo


def test_fidelity_known_answers():
    reference = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]])
    same = zoo.fidelity(reference, reference)
    assert same == {"top1_agreement": 1.0, "sqnr_db": float("inf"), "max_rel_diff": 0.0}
    noisy = zoo.fidelity(reference, reference + np.array([[0.1, 0.0, 0.0], [0.0, 0.0, 3.0]]))
    assert noisy["top1_agreement"] == 0.5                      # the second row's top-1 moved
    assert noisy["sqnr_db"] == pytest.approx(10 * np.log10(6 / 9.01))
    assert noisy["max_rel_diff"] == pytest.approx(1.5)


def test_the_calibration_set_is_fixed_and_apart_from_validation():
    first, again = zoo.calibration_inputs((3, 8, 8)), zoo.calibration_inputs((3, 8, 8))
    assert first.shape == (zoo.CALIBRATION, 3, 8, 8) and np.array_equal(first, again)


def test_every_full_size_quantizer_on_a_tiny_model(tmp_path):
    record = zoo.build("digits_cnn", tmp_path, threads=1, log=lambda line: None)
    variants = record["variants"]
    expected = {f"digits_cnn/{v.key}" for v in zoo.zoo_variants("torch")}
    assert set(variants) == expected
    failed = {k: v["error"] for k, v in variants.items() if v["status"] != "ok"}
    assert not failed  # LiteRT float16 from a PyTorch model too: ai-edge-quantizer's float casting
    assert variants["digits_cnn/litert/fp16"]["bytes"] < variants["digits_cnn/litert/fp32"]["bytes"]
    for key, variant in variants.items():
        if variant["status"] != "ok":
            continue
        assert variant["bytes"] > 0 and 0 < variant["compressed_bytes"]
        assert 0.0 <= variant["top1_agreement"] <= 1.0
        if variant["scheme"] == "fp32":                         # the twin against itself
            assert variant["top1_agreement"] == 1.0 and variant["max_rel_diff"] == 0.0
        else:
            assert variant["sqnr_db"] > 5, (key, variant["sqnr_db"])  # quantized, yet close to its twin
    int8 = [v for v in variants.values() if v["status"] == "ok" and v["precision"] == "int8"
            and "dynamic" not in v["scheme"]]
    assert {v["runtime"] for v in int8} == {"onnxruntime", "executorch", "litert"}


def test_the_speedup_figure_draws_each_model_with_the_cpu_extensions(study_root):
    import pandas as pd

    from study.report.quant_figures import zoo_speedups

    row = {"status": "ok", "dataset": "zoo", "precision": "int8", "model": "mobilenet_v2", "runtime": "onnxruntime",
           "scheme": "qdq-int8-channel", "speedup": 1.2, "speedup_ci_low": 1.1, "speedup_ci_high": 1.3,
           "top1_agreement": 0.9, "sqnr_db": 20.0, "size_reduction_pct": 70.0, "cpu_isa": "avx2 avx512_vnni"}
    fig = zoo_speedups(pd.DataFrame([row, {**row, "model": "resnet18"}]), "zoo")
    assert len(fig.axes) == 2 and "CPU extensions: avx2 avx512_vnni" in fig.get_suptitle()
    assert (study_root / "figures" / "zoo" / "quant_zoo_speedups.png").stat().st_size > 10_000
    assert zoo_speedups(pd.DataFrame([{**row, "speedup": None}]), "zoo") is None  # nothing timed, nothing drawn
