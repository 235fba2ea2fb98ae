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
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Run one inference and return the output as a numpy array (materialised, not lazy)."""
