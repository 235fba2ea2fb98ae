"""The model zoo. Adding a model = one file in this folder defining ``SPEC`` + one line in ``MODELS``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from study.errors import StudyError
from study.registry import resolve

MODELS: dict[str, str] = {
    "mobilenet_v2": "study.models.mobilenet_v2:SPEC",
    "digits_cnn": "study.models.digits_cnn:SPEC",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    framework: str                     # the source framework: "torch"
    input_shape: tuple[int, ...]       # one sample, without the batch dimension
    description: str
    define: Callable[[], Any]          # the architecture, with deterministic (seeded) initial weights
    train: Callable[[Any], Any] | None = None  # fits the defined model on data that ships or is generated

    def build(self):
        """The model as the study measures it: defined, trained when it has a training recipe, in eval mode."""
        module = self.define()
        if self.train is not None:
            module = self.train(module)
        return module.eval()

    def example_input(self, batch: int = 1, seed: int = 0):
        """A fixed, seeded float32 input batch (numpy), the same in every process."""
        import numpy as np

        return np.random.default_rng(seed).standard_normal((batch, *self.input_shape), dtype=np.float32)


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise StudyError(f"unknown model '{name}'. Fix: use one of: {', '.join(MODELS)}")
    return resolve(MODELS[name])
