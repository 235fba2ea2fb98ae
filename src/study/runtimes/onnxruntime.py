"""ONNX Runtime on the CPU execution provider, every graph optimisation on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from study.models import ModelSpec
from study.runtimes.base import Backend


class OnnxRuntime(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: inputs})[0]
