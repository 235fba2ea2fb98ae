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

    from study.build.export.onnx_ops.instance_norm import StoredInstanceNorm
    from study.build.export.onnx_torch import module
    from study.build.models.spec import ModelSpec

    path = instance_norm_onnx(tmp_path / "inorm.onnx")
    converted = module(ModelSpec("inorm", "onnx", (3, 16, 16), "", lambda: None), path)
    assert any(isinstance(m, StoredInstanceNorm) for m in converted.modules())  # the study's converter, one file
    matrix = conversion_matrix([str(path)]).set_index("target")
    _reached(matrix, least=5, required=("onnx", *PYTORCH_TARGETS))


def test_a_validation_far_slower_than_its_source_stops_early_and_says_why(bench_root, tmp_path):
    """The bound is the model's own cost: a limit below what the artifact takes stops after three calls over it, with the
    ratio and the operators XNNPACK left out; the ExecuTorch and LiteRT records say what share XNNPACK took."""
    import json

    from study.build.convert import artifact_path, conversion_matrix, validation_dir
    from study.measure import worker
    from study.measure.timing import TooSlow

    ref = f"{detector_onnx(tmp_path / 'detector.onnx')}@3x64x64"
    matrix = conversion_matrix([ref]).set_index("target")
    assert 0 < matrix.loc["executorch", "delegated_share"] <= 1
    pte = artifact_path(ref, "executorch", 1)
    record = json.loads(pte.with_name(pte.name + ".json").read_text())
    assert "XNNPACK took" in record["note"] and record["operators"] >= record["delegated_ops"] > 0
    assert record["slowdown_bound"]["source"] == "ONNX Runtime"  # its timed cases stop as early
    # LiteRT delegates when it loads: its validation counts what XNNPACK took
    assert 0 < matrix.loc["tflite", "delegated_share"] <= 1, matrix.loc["tflite"]
    tflite = artifact_path(ref, "tflite", 1)
    assert "XNNPACK took" in json.loads(tflite.with_name(tflite.name + ".json").read_text())["note"]
    spec = {"kind": "validate", "model": ref, "runtime": "executorch", "artifact": str(pte), "batch": 1,
            "inputs": str(validation_dir(ref) / "inputs.npy"), "reference": str(validation_dir(ref) / "reference.npy"),
            "bound": {"ms_per_sample": 1e-6, "slowdown": 25, "source": "ONNX Runtime",
                      "why": "3 of 10 operators fell outside XNNPACK"}}
    with pytest.raises(TooSlow, match=r"executorch ran this model \d+x slower than ONNX Runtime .*stopped "
                                             r"after 4 calls\. 3 of 10 operators fell outside XNNPACK"):
        worker.validate(spec)
    assert worker.validate({**spec, "bound": None})["status"] == "ok"  # unbounded, the same artifact validates


class SleepyBackend:
    """A runtime far slower than its model's source: every call sleeps 20 ms."""

    def __init__(self, threads):
        self.threads = threads

    def load(self, artifact, model, batch):
        pass

    def predict(self, inputs):
        import time

        time.sleep(0.02)
        return inputs

    def delegation(self):
        return None


def test_a_timed_run_far_slower_than_its_source_stops_in_its_warm_up(monkeypatch):
    """The bound an artifact was validated under goes with its timed cases: a warm-up call far slower than the
    source stops the process with the validation's line, in well under its timing budget."""
    import time
    from types import SimpleNamespace

    from study.core.runtimes import RUNTIMES, RuntimeEntry
    from study.measure import engine
    from study.measure.launcher import CaseSpec
    from study.measure.timing import TooSlow

    monkeypatch.setitem(RUNTIMES, "sleepy", RuntimeEntry("test_files_people_bring:SleepyBackend", "onnx", (), "Sleepy"))
    timing = {"warmup_runs": 50, "warmup_seconds": 5.0, "min_runs": 50, "min_seconds": 5.0, "max_seconds": 30}
    bound = {"ms_per_sample": 0.1, "slowdown": 25, "source": "ONNX Runtime",
             "why": "2 of 3 operators fell outside XNNPACK"}
    case = SimpleNamespace(model="variant", runtime="sleepy", artifact=SimpleNamespace(
        path="/unused", record={"status": "ok", "slowdown_bound": bound}), threads=1, batch=1, cpus=(),
        timing=timing, model_input={"framework": "onnx", "shape": [4]})
    spec = CaseSpec.for_case(case)
    assert spec.options["bound"] == bound and "bound" not in CaseSpec.for_case(case, "operators", runs=3).options
    started = time.perf_counter()
    with pytest.raises(TooSlow, match=r"sleepy ran this model \d+x slower than ONNX Runtime .*stopped after 4 calls"
                                      r"\. 2 of 3 operators fell outside XNNPACK"):
        engine.run(spec)
    assert time.perf_counter() - started < 3  # not the 10 s its warm-up and timed runs would take
    quick = {**timing, "warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 2, "min_seconds": 0.0}
    case.timing, case.artifact.record = quick, {"status": "ok"}
    assert engine.run(CaseSpec.for_case(case))["status"] == "ok"  # without a bound, the same runtime is timed


def _recurrent_node_onnx(path, kind, direction, layout, seq=6, batch=2, features=5, hidden=4):
    """One GRU, LSTM or RNN node written by hand, as torch.onnx never writes it: the batch-first layout (1) or the
    reverse direction, with initial states as inputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    gates, directions = {"GRU": 3, "LSTM": 4, "RNN": 1}[kind], 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(1)
    weights = [numpy_helper.from_array((0.4 * rng.standard_normal(shape)).astype(np.float32), name) for name, shape in
               (("W", (directions, gates * hidden, features)), ("R", (directions, gates * hidden, hidden)),
                ("B", (directions, 2 * gates * hidden)))]
    x_shape = [seq, batch, features] if layout == 0 else [batch, seq, features]
    state_shape = [directions, batch, hidden] if layout == 0 else [batch, directions, hidden]
    states = ["h0", "c0"] if kind == "LSTM" else ["h0"]
    outputs = ["y", "y_h", "y_c"][:len(states) + 1]
    y_shape = [seq, directions, batch, hidden] if layout == 0 else [batch, seq, directions, hidden]
    attributes = {"hidden_size": hidden, "direction": direction, "layout": layout}
    if kind == "GRU":
        attributes["linear_before_reset"] = 1
    node = helper.make_node(kind, ["x", "W", "R", "B", "", *states], outputs, name=f"hand_{kind.lower()}", **attributes)
    graph = helper.make_graph([node], "recurrent", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
                              + [helper.make_tensor_value_info(s, TensorProto.FLOAT, state_shape) for s in states],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)]
                              + [helper.make_tensor_value_info(o, TensorProto.FLOAT, state_shape) for o in outputs[1:]],
                              initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    # drawn in layout 0 and transposed, so the two layouts of one node see the same values
    feeds = {"x": rng.standard_normal((seq, batch, features)).astype(np.float32),
             **{s: rng.standard_normal((directions, batch, hidden)).astype(np.float32) for s in states}}
    return path, {name: value.swapaxes(0, 1) if layout == 1 else value for name, value in feeds.items()}


@pytest.mark.parametrize("kind,direction,layout", [("GRU", "reverse", 1), ("LSTM", "reverse", 0),
                                                   ("RNN", "bidirectional", 1), ("LSTM", "forward", 1)])
def test_recurrent_nodes_in_the_batch_first_layout_or_reversed_match_onnx_runtime(tmp_path, kind, direction, layout):
    """What torch.onnx never writes but other exporters do: the batch-first layout and the reverse direction, with
    initial states given, every output (the sequence and the last states) as ONNX Runtime computes it. ONNX Runtime
    refuses the batch-first layout on CPU ("layout == 1 ... not supported"): there the same node in layout 0 is the
    reference, its outputs transposed."""
    import onnxruntime
    import torch

    from study.build.export.onnx_torch import module
    from study.build.models.spec import ModelSpec

    path, feeds = _recurrent_node_onnx(tmp_path / f"{kind}-{direction}-{layout}.onnx", kind, direction, layout)
    reference, reference_feeds = _recurrent_node_onnx(tmp_path / f"{kind}-{direction}-0.onnx", kind, direction, 0)
    expected = onnxruntime.InferenceSession(str(reference)).run(None, reference_feeds)
    if layout == 1:  # Y [seq, directions, batch, hidden] -> [batch, seq, directions, hidden]; states batch first
        expected = [expected[0].transpose(2, 0, 1, 3), *(state.swapaxes(0, 1) for state in expected[1:])]
    inputs = tuple({"name": name, "shape": list(value.shape), "dtype": "float32"} for name, value in feeds.items())
    spec = ModelSpec(path.stem, "onnx", feeds["x"].shape[1:], "", lambda: None, inputs=inputs)
    with torch.no_grad():
        got = module(spec, path)(*(torch.from_numpy(v) for v in feeds.values()))
    got = got if isinstance(got, (tuple, list)) else (got,)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine.numpy(), theirs, rtol=1e-4, atol=1e-5)


def test_a_range_that_stays_dynamic_is_computed_at_run_time(tmp_path):
    """A Range whose limit is an input's value (not its shape) cannot fold: it is computed when the module runs,
    and eager PyTorch gives ONNX Runtime's result for every value."""
    import onnx
    import onnxruntime
    import torch
    from onnx import TensorProto, helper, numpy_helper

    from study.build.export.onnx_ops.range import ComputedRange
    from study.build.export.onnx_torch import module
    from study.build.models.spec import ModelSpec

    constants = [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (("zero", 0), ("one", 1))]
    nodes = [helper.make_node("Range", ["zero", "count", "one"], ["steps"], name="steps_range"),
             helper.make_node("Cast", ["steps"], ["steps_f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["steps_f"], ["total"], keepdims=0),
             helper.make_node("Add", ["x", "total"], ["y"])]
    graph = helper.make_graph(nodes, "counted", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                                                 helper.make_tensor_value_info("count", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "counted.onnx"))
    spec = ModelSpec("counted", "onnx", (4,), "", lambda: None, inputs=(
        {"name": "x", "shape": [1, 4], "dtype": "float32"}, {"name": "count", "shape": [], "dtype": "int64"}))
    converted = module(spec, tmp_path / "counted.onnx")
    assert any(isinstance(m, ComputedRange) for m in converted.modules())
    session = onnxruntime.InferenceSession(str(tmp_path / "counted.onnx"))
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    for count in (3, 7):
        expected = session.run(None, {"x": x, "count": np.array(count, dtype=np.int64)})[0]
        with torch.no_grad():
            got = converted(torch.from_numpy(x), torch.tensor(count)).numpy()
        np.testing.assert_allclose(got, expected)


def test_a_call_under_the_floor_is_never_stopped():
    """On a model of 0.1 ms a sample, a 4 ms call is 40x its source but says nothing about kernels: the floor of the
    bounds artifacts carry (``floor_ms``) lets it through, and the same call over the floor still stops."""
    from study.build.convert import VALIDATION_FLOOR_MS
    from study.measure.timing import TooSlow, judge_call

    bound = {"ms_per_sample": 0.1, "slowdown": 25, "source": "ONNX Runtime", "why": "", "floor_ms": VALIDATION_FLOOR_MS}
    judge_call([0.1, 0.004, 0.004, 0.004], 1, bound, "torch_eager")
    with pytest.raises(TooSlow):
        judge_call([0.1, 0.004, 0.004, 0.004], 1, {**bound, "floor_ms": 0.0}, "torch_eager")
    over = 2 * VALIDATION_FLOOR_MS / 1e3
    with pytest.raises(TooSlow):
        judge_call([0.1, over, over, over], 1, bound, "torch_eager")


def test_one_stall_of_the_machine_does_not_stop_a_run_but_a_slow_runtime_stops_at_once():
    """A 12 ms stall in the warm-up of a 0.03 ms model (seen on a shared VM: LiteRT stopped as 36x slower) is one
    call: judged with the calls around it, it passes. Three slow calls in a row, or one slow call of a second or
    more, stop the run."""
    from study.measure.timing import TooSlow, judge_call

    bound = {"ms_per_sample": 0.3, "slowdown": 25, "source": "ONNX Runtime", "why": "", "floor_ms": 10.0}
    judge_call([0.01, 0.00003, 0.012], 1, bound, "litert")
    judge_call([0.01, 0.012, 0.00003, 0.012, 0.00003], 1, bound, "litert")
    with pytest.raises(TooSlow, match="stopped after 4 calls"):
        judge_call([0.01, 0.012, 0.012, 0.012], 1, bound, "litert")
    with pytest.raises(TooSlow, match="stopped after 2 calls"):
        judge_call([0.01, 1.5], 1, bound, "litert")
