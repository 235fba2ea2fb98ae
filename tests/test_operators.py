"""Operator profiles: each runtime's profiler output mapped to op types, on a tiny model with one of each."""

from pathlib import Path

import numpy as np
import pytest
import torch

from study.build.models import ModelSpec
from study.measure.operators import OP_TYPES, by_type, largest_gap, op_type


class Tiny(torch.nn.Module):
    """A convolution, a depthwise convolution, element-wise ops, a reshape and a matrix multiply."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3)
        self.depthwise = torch.nn.Conv2d(16, 16, 3, groups=16)
        self.linear = torch.nn.Linear(16 * 12 * 12, 10)

    def forward(self, x):
        return self.linear(torch.relu(self.depthwise(self.conv(x))).reshape(x.shape[0], -1))


@pytest.mark.parametrize("name, shape, expected", [
    ("Conv", [16, 3, 3, 3], "convolution"), ("Conv", [16, 1, 3, 3], "depthwise convolution"),
    ("FusedConv", [32, 1, 3, 3], "depthwise convolution"), ("Gemm", None, "matrix multiply"),
    ("Reshape", None, "data movement"), ("Relu", None, "element-wise"), ("GlobalAveragePool", None, "other"),
    ("Convolution (NHWC, F32) IGEMM", None, "convolution"), ("Convolution (NHWC, F32) DWConv", None,
                                                            "depthwise convolution"),
    ("Fully Connected (NC, F32) GEMM", None, "matrix multiply"), ("Transpose (ND, X32)", None, "data movement"),
    ("Convert (NC, F32, QD8)", None, "element-wise"), ("Add (ND)", None, "element-wise"),
    ("aten::mkldnn_convolution", [16, 1, 3, 3], "depthwise convolution"),
    ("aten::_slow_conv2d_forward", [16, 3, 3, 3], "convolution"), ("aten::addmm", None, "matrix multiply"),
    ("aten::copy_", None, "data movement"), ("aten::t", None, "data movement"), ("aten::clamp", None, "element-wise"),
    ("aten::native_batch_norm", None, "element-wise"), ("aten::max_pool2d", None, "other"),
])
def test_operator_names_of_every_profiler_map_to_types(name, shape, expected):
    assert op_type(name, shape) == expected


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    directory = tmp_path_factory.mktemp("ops")
    module = Tiny().eval()
    example = (torch.randn(1, 3, 16, 16),)
    torch.save(module.state_dict(), directory / "tiny.pt")
    torch.onnx.export(module, example, str(directory / "tiny.onnx"), dynamo=False)
    torch.jit.script(module)._save_for_lite_interpreter(str(directory / "tiny.ptl"))
    program = to_edge_transform_and_lower(torch.export.export(module, example),
                                          partitioner=[XnnpackPartitioner()]).to_executorch()
    (directory / "tiny.pte").write_bytes(program.buffer)
    spec = ModelSpec("tiny_ops", "torch", (3, 16, 16), "test", Tiny)
    return directory, spec


@pytest.mark.parametrize("runtime, file, expected", [
    ("onnxruntime", "tiny.onnx", {"convolution", "depthwise convolution", "matrix multiply"}),
    ("torch_eager", "tiny.pt", {"convolution", "depthwise convolution", "matrix multiply", "element-wise"}),
    ("torchscript_lite", "tiny.ptl", {"convolution", "depthwise convolution", "matrix multiply", "element-wise"}),
    ("executorch", "tiny.pte", {"convolution", "depthwise convolution", "matrix multiply"}),
])
def test_each_profiler_sees_the_tiny_models_operators(tiny_artifacts, runtime, file, expected, monkeypatch):
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES

    # in one test process torch's inter-op pool can be sized once; a case process sizes it once too
    monkeypatch.setattr(torch, "set_num_interop_threads", lambda threads: None)

    directory, spec = tiny_artifacts
    backend = resolve(RUNTIMES[runtime].backend)(threads=1)
    backend.load(Path(directory / file), spec, 1)
    inputs = np.random.default_rng(0).standard_normal((1, 3, 16, 16), dtype=np.float32)
    backend.predict(inputs)
    found = backend.profile_operators(inputs, 3)
    seen = {kind for kind, ms in by_type(found, 3).items() if ms > 0}
    assert expected <= seen, (runtime, found)
    assert all(entry["op_type"] in OP_TYPES and entry["ms"] >= 0 for entry in found)


def test_a_runtime_without_a_profiler_says_so(tiny_artifacts):
    from study.measure.operators import NoProfiler
    from study.measure.runtimes.litert import LiteRT

    with pytest.raises(NoProfiler, match="no operator profiler"):
        LiteRT(threads=1).profile_operators(None, 1)


def test_the_largest_gap_names_the_type_that_makes_it():
    import pandas as pd

    rows = []
    for runtime, times in (("fast", {"convolution": 0.2, "matrix multiply": 1.0, "other": 0.1}),
                           ("slow", {"convolution": 2.5, "matrix multiply": 0.1, "other": 1.1})):
        for kind in OP_TYPES:
            rows.append({"model": "m", "runtime": runtime, "status": "ok", "op_type": kind,
                         "ms_per_inference": times.get(kind, 0.0)})
    sentence = largest_gap(pd.DataFrame(rows))
    # 1x1 convolutions run as a matrix multiply in one runtime: the two are compared together
    assert "slow spends 2.40 ms more" in sentence
    assert "convolution and matrix multiply account(s) for 1.40 ms of it (58%), then other for 1.00 ms" in sentence


def test_the_tiny_study_profiles_every_runtime_that_can(tiny_study):
    from study.measure.operators import load_operator_types

    types = load_operator_types("tiny")
    status = types.groupby("runtime")["status"].first().to_dict()
    assert status == {"litert": "no profiler", "onnxruntime": "ok", "torch_eager": "ok"}
    ok = types[types["status"] == "ok"]
    assert set(ok["op_type"]) == set(OP_TYPES)  # every type has a row per runtime, zero where none ran
    shares = ok.groupby("runtime")["share_pct"].sum()
    assert np.allclose(shares, 100.0)
