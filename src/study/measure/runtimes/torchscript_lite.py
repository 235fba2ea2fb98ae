"""The PyTorch Mobile lite interpreter, running a .ptl TorchScript program."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.jit.mobile import _load_for_lite_interpreter

from study.build.models.spec import ModelSpec
from study.core.arrays import tensors_out
from study.measure.runtimes.base import Backend


class TorchScriptLite(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        torch.set_num_threads(self.threads)
        torch.set_num_interop_threads(1)
        self.program = _load_for_lite_interpreter(str(artifact))

    def predict(self, inputs):
        with torch.inference_mode():
            if not isinstance(inputs, tuple):  # the common case: one input
                return tensors_out(self.program(torch.from_numpy(inputs)))
            return tensors_out(self.program(*(torch.from_numpy(a) for a in inputs)))

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        from study.measure.operators import torch_profile

        return torch_profile(lambda: self.predict(inputs), runs)
