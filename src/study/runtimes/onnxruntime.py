"""ONNX Runtime on the CPU execution provider, every graph optimisation on."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from study.models import ModelSpec
from study.runtimes.base import Backend, arguments, result


class OnnxRuntime(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.single = len(self.input_names) == 1 and len(self.session.get_outputs()) == 1

    def predict(self, inputs):
        if self.single:  # the common case, without the bookkeeping of several inputs and outputs
            return self.session.run(None, {self.input_names[0]: inputs})[0]
        return result(self.session.run(None, dict(zip(self.input_names, arguments(inputs)))))
