"""The files people really bring, exported here from small PyTorch nets with the patterns trained files carry:
a detector with free dimensions and shape arithmetic (Shape -> Gather -> Range, reshapes by computed sizes), a
recurrent net, an ``If`` on a fixed input and InstanceNormalization. Each reaches the PyTorch routes (and, once its
shapes are static, ExecuTorch and LiteRT); what cannot be converted names its node."""

import numpy as np
import pytest

PYTORCH_TARGETS = ("torch", "torchscript", "executorch", "tflite")


def _export(net, example, path, dynamic=None, names=("x",)):
    import torch

    torch.onnx.export(net.eval(), example, str(path), input_names=list(names), output_names=["y"],
                      dynamic_axes=dynamic, dynamo=False, opset_version=17)
    return path


def detector_onnx(path):
    """A conv net whose head adds an anchor grid built from its own feature map's shape, exported with the batch,
    height and width free: the graph is Shape, Gather, Range, Expand and Reshape around two convolutions."""
    import torch

    class Detector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Conv2d(3, 8, 3, stride=4, padding=1)
            self.head = torch.nn.Conv2d(8, 4, 1)

        def forward(self, x):
            boxes = self.head(torch.relu(self.features(x)))
            n, c, h, w = boxes.shape
            ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1).expand(n, 1, h, w)
            xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(n, 1, h, w)
            centres = boxes[:, :2] + torch.cat([xs, ys], 1)
            return torch.cat([centres, boxes[:, 2:]], 1).reshape(n, c, h * w).transpose(1, 2)

    torch.manual_seed(0)
    return _export(Detector(), (torch.randn(1, 3, 64, 64),), path, {"x": {0: "n", 2: "h", 3: "w"}})


def recurrent_onnx(path, kind="GRU", bidirectional=True, batch_first=True):
    import torch

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(16, 24, batch_first=batch_first, bidirectional=bidirectional)
            self.fc = torch.nn.Linear(48 if bidirectional else 24, 5)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y[:, -1] if batch_first else y[-1])

    torch.manual_seed(0)
    return _export(Recurrent(), (torch.randn(1, 10, 16) if batch_first else torch.randn(10, 1, 16),), path)


def instance_norm_onnx(path):
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.InstanceNorm2d(8, affine=True),
                              torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 10))
    torch.manual_seed(0)
    with torch.no_grad():  # affine parameters that are not 1 and 0, so a lost affine transform shows
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
    return _export(net, (torch.randn(1, 3, 16, 16),), path)


def rate_branch_onnx(path):
    """Audio models branch on their sample rate: y = Relu(x @ (W16k if sr == 16000 else W8k)), an ``If`` whose
    condition depends only on the int64 input ``sr``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), name) for name in ("w16k", "w8k")]
    branch = {name: helper.make_graph([helper.make_node("MatMul", ["x", weight], [f"{name}_out"])], name, [],
                                      [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1, 4])])
              for name, weight in (("then", "w16k"), ("else", "w8k"))}
    rate = numpy_helper.from_array(np.array(16000, dtype=np.int64), "rate_16k")
    nodes = [helper.make_node("Equal", ["sr", "rate_16k"], ["is_16k"]),
             helper.make_node("If", ["is_16k"], ["mixed"], then_branch=branch["then"], else_branch=branch["else"],
                              name="rate_branch"),
             helper.make_node("Relu", ["mixed"], ["y"])]
    graph = helper.make_graph(nodes, "rate_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
                                                  helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              initializer=[*weights, rate])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _reached(matrix, least: int, required=()):
    """The targets a file reached with parity against itself in ONNX Runtime (the source row included)."""
    ok = matrix[(matrix["status"] == "ok")]
    for target in required:
        assert target in ok.index, (target, matrix.loc[target, "error"])
    assert (ok.drop(index="onnx")["max_rel_diff"] < 1e-4).all(), ok[["max_rel_diff"]]
    assert len(ok) >= least, matrix[["status", "error"]]
    return list(ok.index)


def test_a_detector_with_free_dims_and_shape_arithmetic_reaches_five_targets(bench_root, tmp_path):
    import onnx

    from study.build.convert import conversion_matrix, model_spec
    from study.build.export.onnx_torch import prepared

    path = detector_onnx(tmp_path / "detector.onnx")
    assert {"Shape", "Range", "Gather", "Expand"} <= {n.op_type for n in onnx.load(str(path)).graph.node}
    ref = f"{path}@3x64x64"
    matrix = conversion_matrix([ref]).set_index("target")
    assert len(_reached(matrix, least=5, required=("onnx", *PYTORCH_TARGETS))) == 5
    spec, _ = model_spec(ref)
    folded = {n.op_type for n in prepared(path, spec).graph.node}
    assert spec.runs_at_batch_one_only and not folded & {"Shape", "Range", "Gather", "Expand"}, folded


def test_a_gru_net_reaches_at_least_three_targets(bench_root, tmp_path):
    path = recurrent_onnx(tmp_path / "gru.onnx")
    from study.build.convert import conversion_matrix

    matrix = conversion_matrix([str(path)]).set_index("target")
    _reached(matrix, least=3, required=("onnx", "torch", "torchscript"))


@pytest.mark.parametrize("kind,bidirectional,batch_first", [("GRU", False, False), ("LSTM", True, True),
                                                            ("LSTM", False, False), ("RNN", True, False)])
def test_recurrent_layers_convert_with_onnx_layouts_and_both_directions(tmp_path, kind, bidirectional, batch_first):
    """onnx2torch has no GRU, LSTM or RNN: the study's converters (one file each) match ONNX Runtime's outputs."""
    import onnxruntime
    import torch

    from study.build.export.onnx_torch import module
    from study.build.models.spec import ModelSpec

    path = recurrent_onnx(tmp_path / f"{kind}.onnx", kind, bidirectional, batch_first)
    x = np.random.default_rng(0).standard_normal((1, 10, 16) if batch_first else (10, 1, 16)).astype(np.float32)
    expected = onnxruntime.InferenceSession(str(path)).run(None, {"x": x})[0]
    spec = ModelSpec(str(path), "onnx", x.shape[1:], "", lambda: None, batch_one_only=True)
    with torch.no_grad():
        got = module(spec, path)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_gru_pytorch_cannot_express_names_its_node(tmp_path):
    """A GRU with linear_before_reset=0 (ONNX's default, which PyTorch's GRU does not compute) stops the route
    with the node's name and the fix."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from study.build.export.onnx_torch import module
    from study.build.models.spec import ModelSpec

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((1, 12, 3)).astype(np.float32), "W")
    r = numpy_helper.from_array(rng.standard_normal((1, 12, 4)).astype(np.float32), "R")
    graph = helper.make_graph([helper.make_node("GRU", ["x", "W", "R"], ["y"], hidden_size=4, name="encoder_gru")],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 1, 1, 4])], initializer=[w, r])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "gru0.onnx"))
    with pytest.raises(NotImplementedError, match=r"GRU node 'encoder_gru': linear_before_reset=0.*export with"):
        module(ModelSpec("gru0", "onnx", (1, 3), "", lambda: None, batch_one_only=True), tmp_path / "gru0.onnx")


def test_an_if_on_a_fixed_input_is_inlined_and_without_the_value_names_its_node(bench_root, tmp_path):
    from study.build.convert import conversion_matrix, model_spec

    path = rate_branch_onnx(tmp_path / "rate.onnx")
    fixed = f"{path}@sr:=16000"
    matrix = conversion_matrix([fixed]).set_index("target")
    _reached(matrix, least=3, required=("onnx", "torch", "torchscript"))
    spec, _ = model_spec(fixed)
    assert spec.example_input()[1] == 16000  # every route, ONNX Runtime included, is fed the declared value
    unfixed = conversion_matrix([str(path)]).set_index("target")
    assert unfixed.loc["onnx", "status"] == "ok"
    error = unfixed.loc["torch", "error"]
    assert unfixed.loc["torch", "status"] == "failed" and "If node 'rate_branch'" in error and "sr:=" in error, error


def test_instance_normalization_converts(bench_root, tmp_path):
    from study.build.convert import conversion_matrix

    matrix = conversion_matrix([str(instance_norm_onnx(tmp_path / "inorm.onnx"))]).set_index("target")
    _reached(matrix, least=3, required=("onnx", "torch", "torchscript"))


def test_a_validation_far_slower_than_its_source_stops_early_and_says_why(bench_root, tmp_path):
    """The bound is the model's own cost: a limit below what the artifact takes stops at its second call, with the
    ratio and the operators XNNPACK left out; the ExecuTorch record says what share XNNPACK took."""
    import json

    from study.build.convert import artifact_path, conversion_matrix, validation_dir
    from study.measure import worker

    ref = f"{detector_onnx(tmp_path / 'detector.onnx')}@3x64x64"
    matrix = conversion_matrix([ref]).set_index("target")
    assert 0 < matrix.loc["executorch", "delegated_share"] <= 1
    pte = artifact_path(ref, "executorch", 1)
    record = json.loads(pte.with_name(pte.name + ".json").read_text())
    assert "XNNPACK took" in record["note"] and record["operators"] >= record["delegated_ops"] > 0
    spec = {"kind": "validate", "model": ref, "runtime": "executorch", "artifact": str(pte), "batch": 1,
            "inputs": str(validation_dir(ref) / "inputs.npy"), "reference": str(validation_dir(ref) / "reference.npy"),
            "bound": {"ms_per_sample": 1e-6, "slowdown": 25, "source": "ONNX Runtime",
                      "why": "3 of 10 operators fell outside XNNPACK"}}
    with pytest.raises(worker.TooSlow, match=r"executorch ran this model \d+x slower than ONNX Runtime .*stopped "
                                             r"after 2 calls\. 3 of 10 operators fell outside XNNPACK"):
        worker.validate(spec)
    assert worker.validate({**spec, "bound": None})["status"] == "ok"  # unbounded, the same artifact validates
