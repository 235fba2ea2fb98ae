"""The first article's timing, reproduced: one call, timed once, right after loading the model.

Its code wraps a single ``model.predict(x)`` (Keras) or ``model(x)`` under ``torch.no_grad()`` (PyTorch)
in ``time.time()``. That one number includes tracing the graph, allocating buffers and starting thread
pools; Keras ``predict`` also builds a dataset pipeline for one batch. Here it is measured the same
way, in a fresh process per model, to set beside the steady-state p50 of the same model.
"""

from __future__ import annotations

import time
from pathlib import Path


def single_call_ms(framework: str, model_name: str, source: Path, threads: int) -> dict:
    """Runs in a worker: load the source model as the article does and time one call (ms)."""
    from study.build.models import get_model

    spec = get_model(model_name)
    x = spec.example_input(batch=1)
    if framework == "keras":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from study.build.export.keras_source import load_source

        model = load_source(spec, source)
        start_time = time.time()
        model.predict(x, verbose=0)
        first = (time.time() - start_time) * 1e3
        start_time = time.time()
        model.predict(x, verbose=0)
        second = (time.time() - start_time) * 1e3
        return {"naive_ms": first, "second_call_ms": second, "call": "model.predict(x)"}
    import torch

    torch.set_num_threads(threads)
    from study.build.export.torch_state import load_source

    model = load_source(spec, source)
    tensor = torch.from_numpy(x)
    start_time = time.time()
    with torch.no_grad():
        model(tensor)
    first = (time.time() - start_time) * 1e3
    start_time = time.time()
    with torch.no_grad():
        model(tensor)
    second = (time.time() - start_time) * 1e3
    return {"naive_ms": first, "second_call_ms": second, "call": "model(x) under torch.no_grad()"}
