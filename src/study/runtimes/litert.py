"""LiteRT (the TFLite interpreter, ``ai-edge-litert``); its XNNPACK delegate is applied by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from study.models import ModelSpec
from study.runtimes.base import Backend


class LiteRT(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        self.interpreter = Interpreter(model_path=str(artifact), num_threads=self.threads)
        detail = self.interpreter.get_input_details()[0]
        wanted = [batch, *model.input_shape]
        if list(detail["shape"]) != wanted:
            self.interpreter.resize_tensor_input(detail["index"], wanted)
        self.interpreter.allocate_tensors()
        self.input_index = detail["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input_index, inputs)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)
