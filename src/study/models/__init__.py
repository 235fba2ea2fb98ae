"""The model zoo. Adding a model = one file in this folder defining ``SPEC`` + one line in ``MODELS``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from study.errors import StudyError
from study.registry import resolve

MODELS: dict[str, str] = {
    "mobilenet_v2": "study.models.torchvision_zoo:MOBILENET_V2",
    "mobilenet_v3_small": "study.models.torchvision_zoo:MOBILENET_V3_SMALL",
    "efficientnet_b0": "study.models.torchvision_zoo:EFFICIENTNET_B0",
    "resnet18": "study.models.torchvision_zoo:RESNET18",
    "keras_mobilenet_v2": "study.models.keras_zoo:MOBILENET_V2",
    "keras_mobilenet_v3_small": "study.models.keras_zoo:MOBILENET_V3_SMALL",
    "keras_efficientnet_b0": "study.models.keras_zoo:EFFICIENTNET_B0",
    "keras_resnet18": "study.models.keras_zoo:RESNET18",
    "lstm_classifier": "study.models.lstm_classifier:SPEC",
    "transformer_encoder": "study.models.transformer_encoder:SPEC",
    "digits_cnn": "study.models.digits_cnn:SPEC",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    framework: str                     # the source framework: "torch" or "keras"
    input_shape: tuple[int, ...]       # one sample, without the batch dimension
    description: str
    define: Callable[[], Any]          # the architecture, with deterministic (seeded) initial weights
    train: Callable[[Any], Any] | None = None  # fits the defined model on data that ships or is generated
    validation_data: str | None = None  # "module:function(count)" giving real inputs for the validation suite

    def build(self):
        """The model as the study measures it: defined, then trained or calibrated when it has a recipe."""
        module = self.define()
        return self.train(module) if self.train is not None else module

    def validation_inputs(self, count: int):
        """The fixed inputs every artifact of this model is checked on (real data where the model has it)."""
        if self.validation_data is not None:
            return resolve(self.validation_data)(count)
        return self.example_input(batch=count, seed=1234)

    def example_input(self, batch: int = 1, seed: int = 0):
        """A fixed, seeded float32 input batch (numpy), the same in every process."""
        import numpy as np

        return np.random.default_rng(seed).standard_normal((batch, *self.input_shape), dtype=np.float32)


# How to run a model from its saved source weights, per framework (the validation suite's reference).
SOURCE_RUNNERS = {"torch": "study.export.torch_state:reference", "keras": "study.export.keras_source:reference",
                  **{f: "study.export.model_file:reference" for f in ("onnx", "tflite", "executorch")}}


def check_model_ref(ref: str) -> None:
    """Raise StudyError unless ``ref`` is a zoo name, a model file or a factory reference."""
    from study.models import byo

    if ref in MODELS:
        return
    try:
        byo.check(ref)
    except StudyError as problem:
        raise StudyError(f"{problem}. Fix: use a zoo model ({', '.join(MODELS)}), a path to a .onnx, .tflite, "
                         ".pte or .pt@SHAPE file, or package.module:factory") from None


def get_model(name: str) -> ModelSpec:
    """A zoo model, or a bring-your-own model once probed (``convert.model_spec`` probes it)."""
    from study.models import byo

    if name in MODELS:
        return resolve(MODELS[name])
    check_model_ref(name)
    return byo.spec(name)
