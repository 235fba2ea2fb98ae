"""The README's worked example: an ONNX file of a small CNN written outside the zoo, brought as a file,
reaches every runtime that has a route (five), with parity against the file itself, and is timed by a
one-model profile; a truncated file and a file of the wrong format are one clear line and a non-zero exit."""

import numpy as np
import pandas as pd
import pytest

from helpers import write_profile


def small_cnn_onnx(path):
    """A user's own network, exported the usual way (not a zoo model, not a factory the study knows)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10)).eval()
    # torch's default exporter (dynamo): Reshape marked allowzero, opset 20, a free batch dimension
    program = torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), input_names=["image"], output_names=["logits"],
                                dynamic_shapes=({0: torch.export.Dim("batch")},))
    program.save(str(path))
    return path


@pytest.fixture(scope="module")
def your_study(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("your-model")
    previous = os.environ.get("STUDY_ROOT")
    os.environ["STUDY_ROOT"] = str(root)
    try:
        net = small_cnn_onnx(root / "net.onnx")
        (root / "truncated.onnx").write_bytes(net.read_bytes()[:300])
        (root / "photo.onnx").write_bytes(b"\x89PNG\r\n\x1a\n not a model at all")
        write_profile(root, "mine", models=["net.onnx", "truncated.onnx", "photo.onnx"],
                      conversion_models=["net.onnx"], batch_sizes=[1],
                      runtimes=["torch_eager", "torchscript_lite", "executorch", "onnxruntime", "litert",
                                "tensorflow"])
        from study.cli import main

        code = main(["bench", "--profile", "mine"])
        yield root, code
    finally:
        if previous is None:
            os.environ.pop("STUDY_ROOT", None)
        else:
            os.environ["STUDY_ROOT"] = previous


def test_an_onnx_file_reaches_five_runtimes_with_parity(your_study, monkeypatch):
    root, _ = your_study
    monkeypatch.setenv("STUDY_ROOT", str(root))
    matrix = pd.read_csv(root / "results" / "mine" / "conversions.csv", keep_default_na=False, na_values=[""])
    mine = matrix[matrix["model"] == "net.onnx"].set_index("target")
    assert mine.loc["onnx", "is_source"] and mine.loc["onnx", "status"] == "ok"
    for target in ("torch", "torchscript", "executorch", "tflite"):
        assert mine.loc[target, "status"] == "ok", (target, mine.loc[target, "error"])
        assert mine.loc[target, "max_rel_diff"] < 1e-4  # against the user's file run in ONNX Runtime
    assert mine.loc["savedmodel", "status"] == "n/a"  # no route from ONNX into TensorFlow
    latency = pd.read_csv(root / "results" / "mine" / "latency.csv")
    timed = latency[latency["model"] == "net.onnx"]
    assert sorted(timed["runtime"]) == ["executorch", "litert", "onnxruntime", "torch_eager", "torchscript_lite"]
    assert (timed["status"] == "ok").all(), timed[["runtime", "error"]]


def test_bad_files_are_one_line_each_and_a_non_zero_exit(your_study, monkeypatch, capsys):
    root, code = your_study
    monkeypatch.setenv("STUDY_ROOT", str(root))
    assert code == 2  # the exit status counts what failed: two of the three models could not be loaded; the third
    # was measured all the same
    matrix = pd.read_csv(root / "results" / "mine" / "conversions.csv", keep_default_na=False)
    failed = matrix[matrix["status"] == "failed"].set_index("model")["error"]
    assert set(failed.index) == {"truncated.onnx", "photo.onnx"}
    assert all(e.startswith("cannot load the model:") and "\n" not in e for e in failed)
    from study.cli import main

    assert main(["convert", "--model", "truncated.onnx"]) == 1
    said = capsys.readouterr().out
    assert "1 could not be loaded" in said
    assert main(["convert", "--model", "net.onnx"]) == 0  # converted already: reused, all ok


def test_a_tflite_file_reaches_onnx_runtime(bench_root, tmp_path):
    """A user's .tflite file (here one litert-torch wrote) converts to ONNX with tf2onnx, checked against LiteRT."""
    from study.build.convert import artifact_path, conversion_matrix, ensure_artifact

    ensure_artifact("digits_cnn", "tflite")
    mine = tmp_path / "mine.tflite"
    mine.write_bytes(artifact_path("digits_cnn", "tflite").read_bytes())
    matrix = conversion_matrix([str(mine)]).set_index("target")
    assert matrix.loc["tflite", "is_source"] and matrix.loc["tflite", "status"] == "ok"
    assert matrix.loc["onnx", "status"] == "ok", matrix.loc["onnx", "error"]
    assert matrix.loc["onnx", "validated_with"] == "onnxruntime" and matrix.loc["onnx", "max_rel_diff"] < 1e-4
    # PyTorch eager runs what TorchScript runs: the module is rebuilt from the file (it once had no definition,
    # and eager failed with "'NoneType' object is not callable")
    from study.build.models import get_model
    from study.measure.runtimes.litert import LiteRT
    from study.measure.runtimes.torch_eager import TorchEager

    spec = get_model(str(mine))
    eager, source = TorchEager(threads=1), LiteRT(threads=1)
    eager.load(artifact_path(str(mine), "torch"), spec, 1)
    source.load(mine, spec, 1)
    x = spec.example_input()
    np.testing.assert_allclose(eager.predict(x), source.predict(x), rtol=1e-4, atol=1e-5)


def stateful_onnx(path):
    """A model with several inputs and outputs, one of them boolean and one an integer: a sequence step with its
    state, a mask and a shift, returning class logits and the new state."""
    import torch

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.rec = torch.nn.Linear(16, 32), torch.nn.Linear(32, 32)
            self.head = torch.nn.Linear(32, 10)

        def forward(self, x, state, mask, shift):
            y = torch.tanh(0.1 * (self.inp(x) + self.rec(state).unsqueeze(1) + shift.float().unsqueeze(-1)))
            y = torch.where(mask.unsqueeze(-1), y, torch.zeros_like(y))
            new_state = y.mean(dim=1)
            return self.head(new_state), new_state

    torch.manual_seed(0)
    example = (torch.randn(1, 8, 16), torch.randn(1, 32), torch.ones(1, 8, dtype=torch.bool),
               torch.zeros(1, 1, dtype=torch.int64))
    torch.onnx.export(Step().eval(), example, str(path), input_names=["x", "state", "mask", "shift"],
                      output_names=["logits", "new_state"], dynamo=False)
    return path


def test_a_model_with_several_inputs_and_outputs(bench_root, tmp_path):
    """Input specs come from the file (names, shapes, dtypes), inputs are generated of each dtype, every output is
    compared; ONNX Runtime runs the file and PyTorch (through onnx2torch) and TorchScript run its conversions."""
    from study.build.convert import conversion_matrix, model_spec

    ref = str(stateful_onnx(tmp_path / "step.onnx"))
    matrix = conversion_matrix([ref]).set_index("target")
    spec, _ = model_spec(ref)
    assert [(i["name"], i["dtype"]) for i in spec.inputs] == [("x", "float32"), ("state", "float32"),
                                                               ("mask", "bool"), ("shift", "int64")]
    example = spec.example_input()
    assert example[2].dtype == bool and example[3].dtype == "int64" and example[0].shape == (1, 8, 16)
    assert matrix.loc["onnx", "status"] == "ok"  # the user's file, run in ONNX Runtime: the reference
    for target in ("torch", "torchscript", "executorch", "tflite"):
        assert matrix.loc[target, "status"] == "ok", (target, matrix.loc[target, "error"])
        assert matrix.loc[target, "max_rel_diff"] < 1e-4
    from study.phases.bench import bench

    write_profile(bench_root, "stateful", models=[ref], conversion_models=[ref], batch_sizes=[1], energy=None,
                  runtimes=["onnxruntime", "torch_eager", "litert"])
    timed = bench("stateful", progress=False, only="latency")
    assert sorted(timed["runtime"]) == ["litert", "onnxruntime", "torch_eager"]
    assert (timed["status"] == "ok").all(), timed[["runtime", "error"]]
