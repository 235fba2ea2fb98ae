"""ONNX Runtime on the CPU execution provider, every graph optimisation on."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from study.build.models.spec import ModelSpec
from study.core.arrays import arguments, result
from study.measure.runtimes.base import Backend


class OnnxRuntime(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        self.artifact = artifact
        self.session = self._session(artifact)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.single = len(self.input_names) == 1 and len(self.session.get_outputs()) == 1

    def _session(self, artifact: Path, profile_prefix: str | None = None):
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        return ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])

    def predict(self, inputs):
        if self.single:  # the common case, without the bookkeeping of several inputs and outputs
            return self.session.run(None, {self.input_names[0]: inputs})[0]
        return result(self.session.run(None, dict(zip(self.input_names, arguments(inputs)))))

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        """ONNX Runtime's session profiling: a second session, the same options, every node's kernel time."""
        import json
        import tempfile

        from study.measure.operators import entry

        with tempfile.TemporaryDirectory() as scratch:
            profiled, plain = self._session(self.artifact, f"{scratch}/ort"), self.session
            try:
                self.session = profiled
                for _ in range(runs + 1):  # the first run is the session's warm-up: dropped below
                    self.predict(inputs)
            finally:
                self.session = plain
            events = json.loads(Path(profiled.end_profiling()).read_text())
        kernels = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
        per_run = len(kernels) // (runs + 1)
        found = []
        for event in kernels[per_run:]:
            args = event.get("args", {})
            shapes = [list(shape.values())[0] for shape in args.get("input_type_shape", []) if shape]
            found.append(entry(args.get("op_name", event["name"]), event.get("dur", 0) / 1e3, 1,
                               shapes[1] if len(shapes) > 1 else None))
        return found
