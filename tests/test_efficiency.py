"""Adaptive stopping, FLOP counting, the GEMM ceiling and the naive-call comparison, on known answers."""

import numpy as np
import pandas as pd
import pytest

from study.build.flops import onnx_flops
from study.core.statistics import median_ci_halfwidth
from study.measure.timing import harness_overhead_ms, timed_runs
from study.measure.peak import gemm_gflops
from study.core.store import naive_vs_steady


def test_median_ci_halfwidth_known_cases():
    assert median_ci_halfwidth([5.0] * 100) == 0.0
    assert median_ci_halfwidth([1.0] * 5) == float("inf")  # too few samples to say
    rng = np.random.default_rng(0)
    wide = median_ci_halfwidth(rng.normal(10, 1, 100))
    narrow = median_ci_halfwidth(rng.normal(10, 1, 10_000))
    # the median's standard error is 1.2533 * sigma / sqrt(n): half-width ~ 1.96 * that / median
    assert wide == pytest.approx(1.96 * 1.2533 / np.sqrt(100) / 10, rel=0.35)
    assert narrow < wide / 5


def test_timed_runs_continues_until_the_ci_target():
    rng = np.random.default_rng(1)
    noisy = iter(rng.lognormal(0, 0.5, 100_000))
    # a fake clock is not needed: the call returns at once, so the count is what the CI rule decides
    calls = timed_runs(lambda: next(noisy), min_runs=10, min_seconds=0.0, max_seconds=30, target_ci=0.0)
    assert len(calls) == 10
    spin = iter(rng.lognormal(0, 0.5, 100_000))

    def busy():  # latency that really varies, so the samples carry the noise
        end = next(spin) * 2e-5
        import time

        start = time.perf_counter()
        while time.perf_counter() - start < end:
            pass

    samples = timed_runs(busy, min_runs=10, min_seconds=0.0, max_seconds=30, target_ci=0.05)
    assert len(samples) > 10
    assert median_ci_halfwidth(samples) <= 0.05


@pytest.mark.serial  # a time bound: alone, after the parallel tests
def test_harness_overhead_is_tiny():
    assert 0 < harness_overhead_ms(seconds=0.05) < 0.05  # tens of microseconds at most, on any machine


def _graph_with_known_flops(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")  # 8 filters of 3x3x3
    dense = numpy_helper.from_array(np.zeros((8 * 4 * 4, 10), np.float32), "d")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),   # out 1x8x4x4
        helper.make_node("Flatten", ["c"], ["f"]),                        # 1x128
        helper.make_node("MatMul", ["f", "d"], ["y"]),                    # 1x10
    ]
    graph = helper.make_graph(nodes, "known", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])], [weight, dense])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    conv_macs = (8 * 4 * 4) * (3 * 3 * 3)
    matmul_macs = 10 * 128
    return 2 * (conv_macs + matmul_macs)


def test_onnx_flops_on_a_graph_with_a_known_count(tmp_path):
    expected = _graph_with_known_flops(tmp_path / "known.onnx")
    assert onnx_flops(tmp_path / "known.onnx") == expected


def test_gemm_reports_a_plausible_throughput():
    result = gemm_gflops(seconds=0.2, size=256, threads=1)
    assert set(result["per_library_gflops"]) == {"numpy", "torch"}
    assert result["gflops"] == max(result["per_library_gflops"].values())  # the ceiling is the better library
    assert 0.1 < result["median_gflops"] <= result["gflops"] < 10_000


def test_naive_call_is_set_beside_the_steady_p50():
    naive = pd.DataFrame([{"status": "ok", "model": "m", "call": "model.predict(x)", "naive_ms": 300.0,
                           "second_call_ms": 40.0, "steady_runtime": "tensorflow", "threads": 2}])
    table = pd.DataFrame([
        {"model": "m", "runtime": "tensorflow", "batch": 1, "threads": 2, "status": "ok", "p50_ms": 15.0},
        {"model": "m", "runtime": "tensorflow", "batch": 8, "threads": 2, "status": "ok", "p50_ms": 90.0},
        {"model": "m", "runtime": "litert", "batch": 1, "threads": 2, "status": "ok", "p50_ms": 5.0},
    ])
    joined = naive_vs_steady(naive, table)
    assert joined.loc[0, "steady_p50_ms"] == 15.0 and joined.loc[0, "naive_over_p50"] == 20.0
    assert naive_vs_steady(pd.DataFrame(), table).empty
