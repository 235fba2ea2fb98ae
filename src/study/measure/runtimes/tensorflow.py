"""TensorFlow running a SavedModel's ``serve`` function (a traced tf.function), threads fixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from study.build.models.spec import ModelSpec
from study.measure.runtimes.base import Backend


class TensorFlow(Backend):
    def load(self, artifact: Path, model: ModelSpec, batch: int) -> None:
        tf.config.threading.set_intra_op_parallelism_threads(self.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.loaded = tf.saved_model.load(str(artifact))
        self.serve = self.loaded.serve

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        output = self.serve(tf.constant(inputs))
        if isinstance(output, dict):
            output = next(iter(output.values()))
        return output.numpy()

    def profile_operators(self, inputs, runs: int) -> list[dict]:
        from study.measure.operators import NoProfiler

        raise NoProfiler("TensorFlow: tf.profiler writes TensorBoard XPlane traces, which need TensorBoard's profile "
                         "plugin to read; the study does not parse them")
