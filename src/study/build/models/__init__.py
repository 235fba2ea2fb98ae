"""The model zoo. Adding a model = one file in this folder defining ``SPEC`` + one line in ``MODELS``."""

from __future__ import annotations

from study.core.errors import StudyError
from study.core.registry import resolve
from study.build.models.spec import ModelSpec, RealImages, generated_input  # noqa: F401 (the zoo's names)

MODELS: dict[str, str] = {
    "mobilenet_v2": "study.build.models.torchvision_zoo:MOBILENET_V2",
    "mobilenet_v3_small": "study.build.models.torchvision_zoo:MOBILENET_V3_SMALL",
    "efficientnet_b0": "study.build.models.torchvision_zoo:EFFICIENTNET_B0",
    "resnet18": "study.build.models.torchvision_zoo:RESNET18",
    "keras_mobilenet_v2": "study.build.models.keras_zoo:MOBILENET_V2",
    "keras_mobilenet_v3_small": "study.build.models.keras_zoo:MOBILENET_V3_SMALL",
    "keras_efficientnet_b0": "study.build.models.keras_zoo:EFFICIENTNET_B0",
    "keras_resnet18": "study.build.models.keras_zoo:RESNET18",
    "lstm_classifier": "study.build.models.lstm_classifier:SPEC",
    "transformer_encoder": "study.build.models.transformer_encoder:SPEC",
    "digits_cnn": "study.build.models.digits_cnn:SPEC",
    "blazeface": "study.build.models.shipped:BLAZEFACE",
    "ppocr_det": "study.build.models.shipped:PPOCR_DET",
    "ppocr_cls": "study.build.models.shipped:PPOCR_CLS",
}


# How to run a model from its saved source weights, per framework (the validation suite's reference).
SOURCE_RUNNERS = {"torch": "study.build.export.torch_state:reference", "keras": "study.build.export.keras_source:reference",
                  **{f: "study.build.export.model_file:reference" for f in ("onnx", "tflite", "executorch")}}


def check_model_ref(ref: str) -> None:
    """Raise StudyError unless ``ref`` is a zoo name, a model file or a factory reference."""
    from study.build.models import byo

    if ref in MODELS:
        return
    try:
        byo.check(ref)
    except StudyError as problem:
        raise StudyError(f"{problem}. Fix: use a zoo model ({', '.join(MODELS)}), a path to a .onnx, .tflite, "
                         ".pte or .pt@SHAPE file, or package.module:factory") from None


def get_model(name: str) -> ModelSpec:
    """A zoo model, or a bring-your-own model once probed (``convert.model_spec`` probes it)."""
    from study.build.models import byo

    if name in MODELS:
        return resolve(MODELS[name])
    check_model_ref(name)
    return byo.spec(name)
