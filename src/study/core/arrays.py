"""Model inputs and outputs as arrays: one input or several, one output or several, the same way everywhere."""

from __future__ import annotations

import numpy as np


def arguments(inputs) -> tuple:
    """The inputs as a tuple of arrays, whether the model has one input or several."""
    return inputs if isinstance(inputs, tuple) else (inputs,)


def result(outputs) -> "np.ndarray | tuple":
    """One output as an array, several as a tuple of arrays."""
    outputs = [np.asarray(o) for o in outputs]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def tensors_out(output):
    """A PyTorch module's output (a tensor, or a tuple or list of them) as ``result`` gives it."""
    return result(t.numpy() for t in output) if isinstance(output, (tuple, list)) else output.numpy()
