"""The one interface every runtime implements: load an artifact with fixed threads, then predict."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from study.build.models.spec import ModelSpec


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

    def delegation(self) -> dict | None:
        """The operators a delegate took once loaded: ``delegated_ops``, ``operators`` and ``outside_delegate`` (the
        most frequent ops left out, named). None where the runtime does not delegate or does not say."""
        return None

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        """Time per operator over ``runs`` inferences, from the runtime's own profiler: a list of
        ``study.measure.operators.entry`` (operator, op type, total ms, calls). A runtime without one says so."""
        from study.measure.operators import NoProfiler

        raise NoProfiler(f"{type(self).__name__}: its Python package exposes no operator profiler")
