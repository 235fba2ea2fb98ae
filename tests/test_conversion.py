"""Conversion matrix, validation suite and bring-your-own models, on tiny models built here."""

import textwrap

import numpy as np
import pytest

from helpers import write_profile
from study.core import paths
from study.phases.bench import bench
from study.phases.convert import convert_profile
from study.build.convert import artifact_path, conversion_matrix, ensure_artifact, validate_artifact
from study.core.runtimes import RUNTIMES
from study.build.validation import THRESHOLDS, informative, parity, run_in_chunks, verdict

FACTORIES = textwrap.dedent('''
    import numpy as np


    def torch_tiny():
        import torch

        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(4 * 6 * 6, 5)).eval()
        return model, torch.randn(1, 1, 6, 6)


    def keras_tiny():
        import keras

        keras.utils.set_random_seed(0)
        inputs = keras.Input((6, 6, 1))
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        outputs = keras.layers.Dense(5)(keras.layers.Flatten()(x))
        return keras.Model(inputs, outputs), np.random.default_rng(0).standard_normal((1, 6, 6, 1), dtype=np.float32)


    def raises():
        raise RuntimeError("weights server unreachable")
''')


@pytest.fixture
def factories(bench_root, tmp_path, monkeypatch):
    """A user's module of model factories, importable by the study and by its worker processes."""
    (tmp_path / "user_models.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


# --- thresholds on hand-made outputs ------------------------------------------------------------

def test_parity_of_identical_outputs_is_perfect():
    reference = np.random.default_rng(0).standard_normal((8, 10))
    metrics = parity(reference.copy(), reference)
    assert metrics == {"max_abs_diff": 0.0, "max_rel_diff": 0.0, "cosine_min": pytest.approx(1.0),
                       "top1_agreement": 1.0}
    assert verdict(metrics) == ("ok", "")


@pytest.mark.parametrize("perturb, broken", [
    (lambda r: r + 0.01 * np.abs(r).max(), "max relative difference"),
    (lambda r: r[:, ::-1].copy(), "max relative difference"),
])
def test_perturbed_outputs_are_a_mismatch(perturb, broken):
    reference = np.random.default_rng(0).standard_normal((8, 10))
    status, reason = verdict(parity(perturb(reference), reference))
    assert status == "mismatch" and broken in reason


def test_a_sample_whose_output_is_rounding_noise_is_judged_by_its_difference_alone():
    """A text map of a photograph without text is ~1e-8 everywhere: its cosine with the reference is noise."""
    rng = np.random.default_rng(0)
    reference = np.concatenate([rng.random((1, 400)), 1e-8 * rng.random((1, 400))])
    outputs = reference.copy()
    outputs[1] = 1e-8 * rng.random(400)  # another draw of the noise: the cosine alone would call it a mismatch
    assert verdict(parity(outputs, reference)) == ("ok", "")
    outputs[1] = 0.5  # a real difference still fails, on the relative difference
    assert verdict(parity(outputs, reference))[0] == "mismatch"


def test_a_detection_model_has_no_top1_to_check():
    limits = THRESHOLDS["fp32"]
    assert verdict({"max_rel_diff": 0.0, "cosine_min": 1.0, "top1_agreement": None}) == ("ok", "")
    assert verdict({"max_rel_diff": 0.0, "cosine_min": 1.0, "top1_agreement": limits.min_top1 - 0.5})[0] == "mismatch"


def test_outputs_of_a_model_with_one_input_and_several_outputs_come_back_per_output():
    from study.build.validation import run_in_chunks

    inputs = np.arange(10, dtype=np.float32).reshape(5, 2)
    boxes, scores = run_in_chunks(lambda x: (np.repeat(x, 8, axis=1), x.sum(axis=1, keepdims=True)), inputs, 2)
    assert boxes.shape == (5, 16) and scores.shape == (5, 1)
    assert np.array_equal(scores[:, 0], inputs.sum(axis=1))  # the padded last chunk is cut off again


def test_each_threshold_is_checked_on_its_own():
    limits = THRESHOLDS["fp32"]
    base = {"max_rel_diff": 0.0, "cosine_min": 1.0, "top1_agreement": 1.0}
    assert verdict({**base, "max_rel_diff": limits.max_rel_diff * 2})[0] == "mismatch"
    assert verdict({**base, "cosine_min": limits.min_cosine - 1e-3})[0] == "mismatch"
    assert verdict({**base, "top1_agreement": limits.min_top1 - 0.05})[0] == "mismatch"
    assert verdict({**base, "top1_agreement": limits.min_top1})[0] == "ok"


def test_uniform_reference_is_not_informative():
    uniform = np.full((16, 1000), 1e-3)
    assert informative(uniform)["reference_informative"] is False
    varied = np.random.default_rng(0).standard_normal((16, 1000))
    assert informative(varied)["reference_informative"] is True


def test_chunks_pad_the_last_batch_and_drop_the_padding():
    seen = []
    outputs = run_in_chunks(lambda x: seen.append(len(x)) or x * 2, np.arange(10.0).reshape(10, 1), batch=4)
    assert seen == [4, 4, 4] and outputs.ravel().tolist() == [2.0 * i for i in range(10)]


# --- every backend loads and runs its artifact -----------------------------------------------------

@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_every_runtime_runs_a_tiny_model_it_matches(factories, runtime):
    fmt = RUNTIMES[runtime].artifact_format
    model = "user_models:keras_tiny" if fmt == "savedmodel" else "digits_cnn"  # TensorFlow runs Keras models
    if fmt in ("torch", "keras"):  # a source format: run it through a measured case instead
        write_profile(paths.root(), f"rt-{runtime}",
                      models=[model], conversion_models=[model], runtimes=[runtime], batch_sizes=[1])
        table = bench(f"rt-{runtime}", progress=False)
        assert table["status"].tolist() == ["ok"], table["error"].tolist()
        return
    artifact = ensure_artifact(model, fmt)
    assert artifact.record["status"] == "ok", artifact.record.get("error")
    assert artifact.record["validated_with"] == runtime
    assert artifact.record["max_rel_diff"] < 1e-4 and artifact.record["top1_agreement"] == 1.0


def test_the_executorch_backend_runs_without_importing_the_compiler():
    """A case process pays for the runtime, not for exir, which executorch.runtime's wrapper would import."""
    import subprocess
    import sys

    probe = ("import sys; import study.measure.runtimes.executorch; "
             "print(sorted(m for m in sys.modules if m.startswith('executorch.exir')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_keras_model_converts_to_every_keras_target(factories):
    matrix = conversion_matrix(["user_models:keras_tiny"])
    statuses = dict(zip(matrix["target"], matrix["status"]))
    assert statuses["keras"] == "ok"
    assert statuses["tflite"] == statuses["onnx"] == statuses["savedmodel"] == "ok", matrix[["target", "error"]]
    assert statuses["torchscript"] == statuses["executorch"] == "n/a"


# --- the validation suite flags a wrong artifact ----------------------------------------------------

def test_a_perturbed_artifact_is_flagged_mismatch(bench_root, tmp_path):
    import onnx
    from onnx import numpy_helper

    good = ensure_artifact("digits_cnn", "onnx")
    model = onnx.load(str(good.path))
    largest = max(model.graph.initializer, key=lambda t: np.prod(t.dims))
    weights = numpy_helper.to_array(largest).copy()
    weights += np.random.default_rng(0).normal(0, weights.std(), weights.shape).astype(weights.dtype)
    largest.CopyFrom(numpy_helper.from_array(weights, largest.name))
    perturbed = tmp_path / "perturbed.onnx"
    onnx.save(model, str(perturbed))
    result = validate_artifact("digits_cnn", "onnx", perturbed, None, "perturbed-test")
    assert result["status"] == "mismatch", result
    assert result["error"].startswith("max relative difference")


# --- bring your own model --------------------------------------------------------------------------

def test_byo_factory_flows_through_conversion_and_latency(factories):
    write_profile(paths.root(), "byo-factory", models=["user_models:torch_tiny"],
                  conversion_models=["user_models:torch_tiny"], runtimes=["torch_eager", "onnxruntime", "litert"],
                  batch_sizes=[1])
    matrix = convert_profile("byo-factory")
    assert set(matrix.loc[matrix["framework"] == "torch", "status"]) <= {"ok", "n/a"}
    assert (matrix.loc[matrix["target"] == "onnx", "status"] == "ok").all()
    table = bench("byo-factory", progress=False)
    assert sorted(table["runtime"]) == ["litert", "onnxruntime", "torch_eager"]
    assert (table["status"] == "ok").all(), table["error"].tolist()


def test_byo_file_flows_through_validation_size_and_latency(factories, tmp_path):
    ensure_artifact("user_models:torch_tiny", "onnx")
    user_file = tmp_path / "mine.onnx"
    user_file.write_bytes(artifact_path("user_models:torch_tiny", "onnx").read_bytes())
    ref = str(user_file)
    write_profile(paths.root(), "byo-file", models=[ref], conversion_models=[ref],
                  runtimes=["onnxruntime", "litert"], batch_sizes=[1])
    matrix = convert_profile("byo-file")
    source = matrix[matrix["is_source"].astype(bool)].iloc[0]
    assert source["target"] == "onnx" and source["status"] == "ok" and source["bytes"] == user_file.stat().st_size
    table = bench("byo-file", progress=False)
    # ONNX Runtime runs the file; LiteRT its conversion through onnx2torch and litert-torch
    assert table["runtime"].tolist() == ["onnxruntime", "litert"] and table["status"].tolist() == ["ok", "ok"]
    assert (matrix.set_index("target").loc[["torch", "tflite"], "status"] == "ok").all()


def test_bad_models_are_recorded_and_the_rest_goes_on(factories, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    ensure_artifact("digits_cnn", "onnx")
    truncated.write_bytes(artifact_path("digits_cnn", "onnx").read_bytes()[:200])
    matrix = conversion_matrix([str(truncated), "user_models:raises", "digits_cnn"])
    failed = matrix[matrix["status"] == "failed"].set_index("model")["error"]
    assert "weights server unreachable" in failed["user_models:raises"]
    assert failed[str(truncated)].startswith("cannot load the model:")
    assert all("\n" not in error for error in failed)
    digits = matrix[matrix["model"] == "digits_cnn"]
    assert set(digits["status"]) == {"ok", "n/a"}


def test_profile_rejects_a_missing_model_file(study_root):
    from study.core.errors import StudyError
    from study.plan.profiles import load_profile

    path = write_profile(study_root, "nofile", models=["models/absent.onnx"])
    with pytest.raises(StudyError, match=r"models: item 0: model file 'models/absent.onnx' not found"):
        load_profile(path)
    torchscript = study_root / "model.pt"
    torchscript.write_bytes(b"not read at validation")
    path = write_profile(study_root, "noshape", models=["model.pt"])
    with pytest.raises(StudyError, match="does not declare its input.*model.pt@3x224x224"):
        load_profile(path)
    assert load_profile(write_profile(study_root, "shape", models=["model.pt@3x8x8"])).models == ("model.pt@3x8x8",)
