"""ExecuTorch's runtime from Python, running a .pte program with its XNNPACK delegate.

The program is loaded through the runtime's own extension module (``pybindings._C``), the module that
``executorch.runtime.Runtime`` wraps, with the same call and the same verification. ``executorch.runtime`` is not
imported: its wrapper module imports ``executorch.exir``, the ahead-of-time compiler, to define one warning class,
and that is 9.5 s and 220 MB of the process (measured on the AMD EPYC: import 13.5 s and 961 MB peak, against 4.0 s
and 739 MB for torch and the runtime alone), which a device running the program never loads. torch stays: the
extension links against libtorch.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch  # before the extension, which resolves libtorch's symbols at load
from executorch.extension.pybindings import _C

from study.build.models.spec import ModelSpec
from study.core.arrays import arguments, result
from study.measure.runtimes.base import Backend


class ExecuTorch(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        _C._unsafe_reset_threadpool(self.threads)  # XNNPACK's thread pool, the only one that computes here
        self.artifact = artifact
        program = _C._load_program(str(artifact), enable_etdump=False, debug_buffer_size=0,
                                   program_verification=_C.Verification.InternalConsistency, data_path=None)
        self.method = program.load_method("forward")

    def predict(self, inputs):
        return result(o.numpy() for o in self.method(tuple(torch.from_numpy(a) for a in arguments(inputs))))

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        """ETDump from a second load of the program with event tracing on, read by the devtools' Inspector: the
        XNNPACK delegate's own operators and the operators run outside it. The envelopes (the method, a delegate
        call, an operator call wrapping a kernel) are left out, so no time is counted twice."""
        import tempfile

        from executorch.devtools import Inspector

        from study.measure.operators import entry

        traced = _C._load_for_executorch(str(self.artifact), enable_etdump=True, debug_buffer_size=0)
        feed = tuple(torch.from_numpy(a) for a in arguments(inputs))
        for _ in range(runs):
            traced.forward(feed)
        with tempfile.TemporaryDirectory() as scratch:
            path = f"{scratch}/etdump.etdp"
            traced.write_etdump_result_to_file(path)
            frame = Inspector(etdump_path=path).to_dataframe()
        envelopes = ("DELEGATE_CALL", "OPERATOR_CALL", "Method::execute", "Method::init", "Program::load_method")
        found = []
        for row in frame[frame["event_block_name"] == "Execute"].itertuples():
            if row.event_name in envelopes:
                continue
            samples = list(row.raw)[-runs:]
            name = re.sub(r"\s#\d+$", "", str(row.event_name)).removeprefix("native_call_")
            found.append(entry(name, sum(samples), len(samples)))
        return found
