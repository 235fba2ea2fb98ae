"""The roofline's arithmetic: bytes and FLOPs counted on an ONNX graph, the attainable rate, the bandwidth
kernel's units."""

import numpy as np
import pandas as pd
import pytest

from study.build.flops import onnx_costs
from study.core.statistics import attainable_gflops
from study.measure.peak import stream_bandwidth
from study.core.store import with_roofline


def gemm_graph(path, m=1, k=64, n=32):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((k, n), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_costs_of_a_known_graph(tmp_path):
    gemm_graph(tmp_path / "g.onnx")
    costs = onnx_costs(tmp_path / "g.onnx")
    assert costs["flops"] == 2 * 64 * 32
    weights, x, h, y = 64 * 32 * 4, 64 * 4, 32 * 4, 32 * 4
    # the weight once; x read by MatMul; h written by MatMul and read by Relu; y written by Relu
    assert costs["bytes"] == weights + x + 2 * h + y


def test_attainable_is_the_lower_roof():
    assert attainable_gflops(2.0, 100.0, 10.0) == pytest.approx(20.0)  # memory-bound: 2 FLOP/B x 10 GB/s
    assert attainable_gflops(50.0, 100.0, 10.0) == pytest.approx(100.0)  # compute-bound
    assert np.isnan(attainable_gflops(np.nan, 100.0, 10.0))


def test_each_case_is_judged_against_its_own_roof():
    table = pd.DataFrame({"arithmetic_intensity": [2.0, 50.0, None], "ceiling_gflops": [100.0, 100.0, 100.0],
                          "bandwidth_gbs": [10.0, 10.0, 10.0], "gflops": [15.0, 50.0, 5.0]})
    table = with_roofline(table)
    assert list(table["roofline_bound"]) == ["memory", "compute", ""]
    assert table["pct_attainable"].iloc[0] == pytest.approx(75.0)  # 15 of the 20 the memory roof allows
    assert table["pct_attainable"].iloc[1] == pytest.approx(50.0)
    assert np.isnan(table["pct_attainable"].iloc[2])


def test_the_streaming_kernel_counts_three_arrays():
    result = stream_bandwidth(seconds=0.05, elements=1 << 20, threads=1)
    assert result["bytes_per_run"] == 3 * (1 << 20) * 4
    assert 0.1 < result["gb_per_s"] < 10_000 and result["median_gb_per_s"] <= result["gb_per_s"]
