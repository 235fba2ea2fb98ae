"""What a model is to the study: its spec (architecture, inputs, weights' recipe, real data), importing no framework."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from study.core.registry import resolve


@dataclass(frozen=True)
class RealImages:
    """A trained model's real inputs, one set per purpose, preprocessed for it: the images int8 calibration sees
    are never among those its variants are judged on."""
    calibration: Callable[[int], Any]   # count -> that many calibration inputs
    fidelity: Callable[[], Any]         # every fidelity input; the first is ``picture``
    calibration_about: str              # what the sets are, in words, for the tables
    fidelity_about: str
    picture: str | None = None          # the fidelity image drawn with each variant's result (boxes, a text map)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    framework: str                     # the source framework: "torch" or "keras"
    input_shape: tuple[int, ...]       # one sample, without the batch dimension
    description: str
    define: Callable[[], Any]          # the architecture, with deterministic (seeded) initial weights
    train: Callable[[Any], Any] | None = None  # fits the defined model on data that ships or is generated
    validation_data: str | None = None  # "module:function(count)" giving real inputs for the validation suite
    # A model with several inputs, or inputs that are not float32 (an LSTM with its state, a VAD with a sample
    # rate, a mask): each input's name, full shape at batch 1 and dtype. Empty: one float32 input, input_shape.
    inputs: tuple[dict, ...] = ()
    # A trained model that ships as a file (the shipped family): where the file is (fetched and checked on call),
    # where it came from (package, version, member, sha256, licence), and the task its outputs are judged by.
    source_file: Callable[[], Any] | None = None
    provenance: dict | None = None
    task: str | None = None
    real_images: RealImages | None = None  # its calibration and fidelity images, where the model has real ones
    batch_one_only: bool = False       # the file fixes batch 1 in its graph (BlazeFace's reshapes)

    @property
    def runs_at_batch_one_only(self) -> bool:
        return self.batch_one_only or self.several_inputs

    @property
    def several_inputs(self) -> bool:
        return bool(self.inputs)

    def build(self):
        """The model as the study measures it: defined, then trained or calibrated when it has a recipe."""
        module = self.define()
        return self.train(module) if self.train is not None else module

    def validation_inputs(self, count: int):
        """The fixed inputs every artifact of this model is checked on (real data where the model has it).
        A model with several inputs gets a tuple of arrays, one per input, with the samples stacked first."""
        if self.validation_data is not None:
            return resolve(self.validation_data)(count)
        if self.several_inputs:
            import numpy as np

            samples = [self.example_input(batch=1, seed=1234 + i) for i in range(count)]
            return tuple(np.stack([sample[k] for sample in samples]) for k in range(len(self.inputs)))
        return self.example_input(batch=count, seed=1234)

    def example_input(self, batch: int = 1, seed: int = 0):
        """A fixed, seeded input batch (numpy), the same in every process: one float32 array, or for a model with
        several inputs a tuple with one array per input, each of its dtype and a range that dtype allows."""
        import numpy as np

        rng = np.random.default_rng(seed)
        if not self.several_inputs:
            return rng.standard_normal((batch, *self.input_shape), dtype=np.float32)
        if batch != 1:
            raise ValueError(f"{self.name} has several inputs with shapes of their own: it runs at batch 1 only")
        return tuple(np.full(spec["shape"], spec["value"], dtype=spec["dtype"]) if "value" in spec
                     else generated_input(rng, spec["shape"], spec["dtype"]) for spec in self.inputs)

    def torch_example(self, batch: int = 1) -> tuple:
        """The example input as a tuple of tensors: the positional arguments of a traced or exported module."""
        import torch

        example = self.example_input(batch=batch)
        return tuple(torch.from_numpy(a) for a in example) if self.several_inputs else (torch.from_numpy(example),)


def generated_input(rng, shape, dtype: str):
    """Seeded values of a dtype: floats standard normal, integers in [0, 10), booleans fair coin flips."""
    import numpy as np

    kind = np.dtype(dtype).kind
    if kind == "f":
        return np.asarray(rng.standard_normal(shape), dtype=dtype)
    if kind in "iu":
        return np.asarray(rng.integers(0, 10, size=shape), dtype=dtype)
    if kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    raise ValueError(f"no generator for inputs of dtype {dtype}")
