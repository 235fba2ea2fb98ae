"""`python -m study compare MODEL`: a user's file to a table and the runtime to ship, in one command, on files
the tests make here (an ONNX CNN exported the usual way, a TFLite file, a factory, a model with two inputs), and on
bad input: each problem one line and the right exit status (2 bad input, 1 nothing ran the model)."""

import json
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from test_your_model import small_cnn_onnx

CONTENDERS = "onnxruntime,litert"


def two_inputs_onnx(path):
    """y = Relu(x @ W + z): two float inputs, as a model with a state or a mask has."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "z"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    graph = helper.make_graph(nodes, "two_inputs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
                                                    helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _compare(*args):
    from study.cli import main

    return main(["compare", *map(str, args)])


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One ONNX CNN compared on ONNX Runtime and LiteRT with the user's own inputs: the run every test here reads."""
    import os

    root = tmp_path_factory.mktemp("compare")
    previous = os.environ.get("STUDY_ROOT")
    os.environ["STUDY_ROOT"] = str(root)
    try:
        small_cnn_onnx(root / "net.onnx")
        np.save(root / "mine.npy", np.random.default_rng(3).uniform(0, 1, (5, 3, 32, 32)).astype(np.float32))
        yield root, _compare(root / "net.onnx", "--runtimes", CONTENDERS, "--inputs", root / "mine.npy",
                             "--budget-ms", 1000)
    finally:
        if previous is None:
            os.environ.pop("STUDY_ROOT", None)
        else:
            os.environ["STUDY_ROOT"] = previous


@pytest.fixture
def root(compared, monkeypatch):
    monkeypatch.setenv("STUDY_ROOT", str(compared[0]))
    return compared[0]


def test_a_file_gives_a_table_and_one_sentence_and_exit_0(compared, root):
    assert compared[1] == 0
    record = json.loads((root / "results" / "compare-net-onnx" / "compare.json").read_text())
    assert record["version"] == 1 and record["model"]["inputs"][0]["name"] == "image"
    assert record["model"]["parameters"] > 1000 and record["model"]["flops"] > 0
    table = pd.DataFrame(record["table"])
    assert sorted(table["runtime"]) == ["litert", "onnxruntime"] and (table["status"] == "passed").all(), table
    assert table["p50_ms"].notna().all() and (table["ci_low_ms"] <= table["p50_ms"]).all()
    assert table["cold_start_ms"].gt(0).all() and table["peak_mib"].gt(0).all() and table["size_mb"].gt(0).all()
    assert table.loc[table["runtime"] == "litert", "delegated_pct"].iloc[0] > 0  # XNNPACK's share, said
    assert list(table["p50_ms"]) == sorted(table["p50_ms"])  # sorted by p50
    (found,) = record["answers"]
    assert found["ship"] in ("litert", "onnxruntime") and found["basis"] == "duel"
    assert "within your 1000 ms budget" in found["sentence"]
    comparisons = pd.read_csv(root / "results" / "compare-net-onnx" / "comparisons.csv")
    assert len(comparisons) == 1  # the sentence is the duel's
    assert (root / "results" / "compare-net-onnx" / "compare.md").read_text().count("passed") == 2


def test_parity_is_judged_on_the_users_own_inputs(compared, root):
    record = json.loads((root / "results" / "compare-net-onnx" / "compare.json").read_text())
    assert record["inputs"]["samples"] == 5
    litert = next(r for r in record["table"] if r["runtime"] == "litert")
    assert litert["max_rel_diff"] is not None and litert["max_rel_diff"] < 1e-4
    assert list((root / "artifacts").glob("*/validation/yours-*/reference.npy"))


def test_the_profile_it_writes_holds_only_what_differs_and_a_rerun_measures_nothing(compared, root, capsys):
    profile = yaml.safe_load((root / "params" / "profiles" / "compare-net-onnx.yaml").read_text())
    assert set(profile) == {"name", "description", "models", "runtimes", "threads", "cpu_affinity"}
    assert profile["models"] == ["net.onnx"]  # found from the study's root: bench and report repeat it
    cases = sorted((root / "results" / "compare-net-onnx" / "cases").glob("*.json"))
    assert _compare(root / "net.onnx", "--runtimes", CONTENDERS) == 0
    assert sorted((root / "results" / "compare-net-onnx" / "cases").glob("*.json")) == cases  # nothing measured again
    out = capsys.readouterr().out
    assert "seeded random inputs" in out  # without --inputs, the output says what random inputs can hide


def test_a_tflite_file_and_a_budget_no_runtime_meets(compared, root, capsys):
    tflite = next((root / "artifacts").glob("net*/tflite-fp32-b1.tflite"))
    (root / "net.tflite").write_bytes(tflite.read_bytes())
    code = _compare(root / "net.tflite", "--runtimes", "litert", "--budget-ms", 0.0001)
    out = capsys.readouterr().out
    assert code == 0 and "No runtime fits your limits" in out and "0.0001 ms budget" in out


def test_a_model_with_two_inputs_and_a_factory(root, tmp_path, monkeypatch, capsys):
    two_inputs_onnx(root / "two.onnx")
    assert _compare(root / "two.onnx", "--runtimes", "onnxruntime,torch_eager") == 0
    record = json.loads((root / "results" / "compare-two-onnx" / "compare.json").read_text())
    assert [i["name"] for i in record["model"]["inputs"]] == ["x", "z"]
    assert {r["runtime"]: r["status"] for r in record["table"]} == {"onnxruntime": "passed", "torch_eager": "passed"}
    (tmp_path / "user_nets.py").write_text(
        "import torch\n\ndef tiny():\n    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval(), torch.randn(1, 3, 4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert _compare("user_nets:tiny", "--runtimes", "onnxruntime") == 0
    assert "Ship ONNX Runtime: the only runtime that passed" in capsys.readouterr().out


@pytest.mark.parametrize("args, says", [
    (["missing.onnx"], "not found"),
    (["corrupt.onnx"], "cannot load the model"),
    (["net.onnx", "--device", "no-such-board"], "unknown device"),
    (["net.onnx", "--inputs", "wrong.npy"], "does not fit the model's input"),
    (["net.onnx", "--threads", "two"], "--threads"),
    (["net.onnx", "--runtimes", "tvm"], "unknown runtime tvm"),
])
def test_bad_input_is_one_line_and_exit_2(compared, root, args, says, capsys):
    (root / "corrupt.onnx").write_bytes((root / "net.onnx").read_bytes()[:200])
    np.save(root / "wrong.npy", np.zeros((2, 3, 16, 16), dtype=np.float32))
    args = [str(root / a) if a.endswith((".onnx", ".npy")) else a for a in args]
    assert _compare(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0] and "Fix:" in err[0], err


def test_a_model_no_route_takes_exits_1(compared, root, capsys):
    assert _compare(root / "net.onnx", "--runtimes", "tensorflow", "--name", "net-tf") == 1
    out = capsys.readouterr().out
    assert "no route" in out and "No runtime ran the model" in out


def test_cli_help_names_every_option():
    from study.cli import parser

    text = parser()._subparsers._group_actions[0].choices["compare"].format_help()
    for option in ("--device", "--runtimes", "--threads", "--batch", "--inputs", "--budget-ms", "--max-size-mb",
                   "--max-memory-mb", "--report"):
        assert option in text, option
    assert sys.executable
