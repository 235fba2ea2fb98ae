"""LiteRT (the TFLite interpreter, ``ai-edge-litert``); its XNNPACK delegate is applied by default."""

from __future__ import annotations

from pathlib import Path

from ai_edge_litert.interpreter import Interpreter

from study.models import ModelSpec
from study.runtimes.base import Backend, arguments, result


class LiteRT(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        self.interpreter = Interpreter(model_path=str(artifact), num_threads=self.threads)
        details = self.interpreter.get_input_details()
        if not model.several_inputs:
            wanted = [batch, *model.input_shape]
            if list(details[0]["shape"]) != wanted:
                self.interpreter.resize_tensor_input(details[0]["index"], wanted)
        self.interpreter.allocate_tensors()
        self.input_indices = [d["index"] for d in details]
        # litert-torch narrows int64 inputs to int32 (TFLite kernels take int32): the values are cast to match
        self.input_dtypes = [d["dtype"] for d in details]
        self.output_indices = [d["index"] for d in self.interpreter.get_output_details()]

    def predict(self, inputs):
        if len(self.input_indices) == len(self.output_indices) == 1:  # the common case, without the bookkeeping
            self.interpreter.set_tensor(self.input_indices[0], inputs)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output_indices[0])
        for index, dtype, value in zip(self.input_indices, self.input_dtypes, arguments(inputs)):
            self.interpreter.set_tensor(index, value.astype(dtype, copy=False))
        self.interpreter.invoke()
        return result(self.interpreter.get_tensor(i) for i in self.output_indices)

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        from study.operators import NoProfiler

        raise NoProfiler("LiteRT: the ai-edge-litert Interpreter exposes no operator profiler to Python (op "
                         "profiling is in the separate benchmark_model binary, not in the wheel)")
