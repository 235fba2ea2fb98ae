"""ExecuTorch's runtime from Python, running a .pte program with its XNNPACK delegate."""

from __future__ import annotations

from pathlib import Path

import torch
from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
from executorch.runtime import Runtime

from study.models import ModelSpec
from study.runtimes.base import Backend, arguments, result


class ExecuTorch(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        _unsafe_reset_threadpool(self.threads)  # XNNPACK's thread pool, the only one that computes here
        self.method = Runtime.get().load_program(Path(artifact)).load_method("forward")

    def predict(self, inputs):
        return result(o.numpy() for o in self.method.execute(tuple(torch.from_numpy(a) for a in arguments(inputs))))
