"""LiteRT (the TFLite interpreter, ``ai-edge-litert``); its XNNPACK delegate is applied by default."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from study.build.models.spec import ModelSpec
from study.core.arrays import arguments, result
from study.measure.runtimes.base import Backend


def _scale(detail: dict):
    """(scale, zero point) of an int8/uint8 tensor the file quantizes, else None."""
    scale, zero = detail.get("quantization", (0.0, 0))
    return (scale, zero) if detail["dtype"] in (np.int8, np.uint8) and scale else None


def _quantize(value, dtype, scale):
    if scale is None:
        return value.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    return np.clip(np.round(value / scale[0]) + scale[1], info.min, info.max).astype(dtype)


def _dequantize(value, scale):
    return value if scale is None else (value.astype(np.float32) - scale[1]) * np.float32(scale[0])


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
        outputs = self.interpreter.get_output_details()
        self.output_indices = [d["index"] for d in outputs]
        # a fully integer model (ai-edge-quantizer's static recipe) takes and gives int8: the float inputs are
        # quantized and the outputs dequantized with the file's own scales, inside the timed call, as an app must
        self.input_scales = [_scale(d) for d in details]
        self.output_scales = [_scale(d) for d in outputs]
        self.integer_io = any(self.input_scales + self.output_scales)

    def predict(self, inputs):
        if self.integer_io:
            for index, dtype, scale, value in zip(self.input_indices, self.input_dtypes, self.input_scales,
                                                  arguments(inputs)):
                self.interpreter.set_tensor(index, _quantize(value, dtype, scale))
            self.interpreter.invoke()
            return result(_dequantize(self.interpreter.get_tensor(i), scale)
                          for i, scale in zip(self.output_indices, self.output_scales))
        if len(self.input_indices) == len(self.output_indices) == 1:  # the common case, without the bookkeeping
            self.interpreter.set_tensor(self.input_indices[0], inputs)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self.output_indices[0])
        for index, dtype, value in zip(self.input_indices, self.input_dtypes, arguments(inputs)):
            self.interpreter.set_tensor(index, value.astype(dtype, copy=False))
        self.interpreter.invoke()
        return result(self.interpreter.get_tensor(i) for i in self.output_indices)

    def delegation(self) -> dict | None:
        """The file's operators inside XNNPACK's partitions. Once delegated, the interpreter keeps the file's own
        nodes and adds one DELEGATE node per partition; a partition's nodes are those met walking back from its
        outputs to its inputs."""
        try:  # private, but the only view the wheel gives of the graph after delegation
            nodes = self.interpreter._get_ops_details()
        except (AttributeError, RuntimeError, ValueError):
            return None
        delegates = [n for n in nodes if n["op_name"] == "DELEGATE"]
        own = [n for n in nodes if n["op_name"] != "DELEGATE"]
        producer = {int(t): n for n in own for t in n["outputs"] if t >= 0}
        inside: set[int] = set()
        for partition in delegates:
            boundary = {int(t) for t in partition["inputs"]}
            pending = [int(t) for t in partition["outputs"]]
            while pending:
                node = producer.get(pending.pop())
                if node is None or node["index"] in inside:
                    continue
                inside.add(node["index"])
                pending.extend(int(t) for t in node["inputs"] if t >= 0 and int(t) not in boundary)
        outside = Counter(n["op_name"] for n in own if n["index"] not in inside)
        return {"delegated_ops": len(inside), "operators": len(own),
                "outside_delegate": ", ".join(f"{op} x{count}" for op, count in outside.most_common(4))}

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        from study.measure.operators import NoProfiler

        raise NoProfiler("LiteRT: the ai-edge-litert Interpreter exposes no operator profiler to Python (op "
                         "profiling is in the separate benchmark_model binary, not in the wheel)")
