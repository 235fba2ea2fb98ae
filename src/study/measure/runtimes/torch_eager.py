"""PyTorch eager mode, rebuilt from the model definition and the saved state_dict."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision  # noqa: F401  (imported here so its cost counts as the runtime's import time)

from study.build.models.spec import ModelSpec
from study.core.arrays import tensors_out
from study.measure.runtimes.base import Backend


class TorchEager(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        torch.set_num_threads(self.threads)
        torch.set_num_interop_threads(1)
        self.module = model.define()  # architecture only: the trained weights come from the artifact
        # weights_only: a state_dict from disk is untrusted input, never unpickled freely
        self.module.load_state_dict(torch.load(artifact, map_location="cpu", weights_only=True))
        self.module.eval()

    def predict(self, inputs):
        with torch.inference_mode():
            if not isinstance(inputs, tuple):  # the common case: one input
                return tensors_out(self.module(torch.from_numpy(inputs)))
            return tensors_out(self.module(*(torch.from_numpy(a) for a in inputs)))

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        from study.measure.operators import torch_profile

        return torch_profile(lambda: self.predict(inputs), runs)
