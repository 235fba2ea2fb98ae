"""The one interface every runtime implements: load an artifact with fixed threads, then predict."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from study.models import ModelSpec


class Backend(ABC):
    def __init__(self, threads: int):
        self.threads = threads

    @abstractmethod
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        """Make the artifact ready to run on inputs of shape (batch, *model.input_shape)."""

    @abstractmethod
    def predict(self, inputs):
        """Run one inference and return the output as a numpy array (materialised, not lazy). A model with several
        inputs takes a tuple of arrays; one with several outputs returns a tuple of arrays."""

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        """Time per operator over ``runs`` inferences, from the runtime's own profiler: a list of
        ``study.operators.entry`` (operator, op type, total ms, calls). A runtime without one says so."""
        from study.operators import NoProfiler

        raise NoProfiler(f"{type(self).__name__}: its Python package exposes no operator profiler")


def arguments(inputs) -> tuple:
    """The inputs as a tuple of arrays, whether the model has one input or several."""
    return inputs if isinstance(inputs, tuple) else (inputs,)


def result(outputs) -> "np.ndarray | tuple":
    """One output as an array, several as a tuple of arrays."""
    outputs = [np.asarray(o) for o in outputs]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def tensors_out(output):
    """A PyTorch module's output (a tensor, or a tuple or list of them) as ``result`` gives it."""
    return result(t.numpy() for t in output) if isinstance(output, (tuple, list)) else output.numpy()
