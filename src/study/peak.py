"""The machine's attainable fp32 throughput: a GEMM micro-benchmark per thread count.

A large single-precision matrix product through numpy's BLAS (OpenBLAS in the registry's wheels) runs
near the CPU's vector peak; a runtime's achieved GFLOP/s divided by this says how much of the machine a
model's inference actually uses. Measured in a fresh, pinned process per thread count, like every case.
"""

from __future__ import annotations

import time

import numpy as np

GEMM_SIZE = 1024


def gemm_gflops(seconds: float = 1.0, size: int = GEMM_SIZE) -> dict:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    for _ in range(3):
        a @ b  # warm-up: thread pool start, caches
    samples = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(samples) < 5:
        begin = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - begin)
    flop = 2 * size**3
    return {"gflops": flop / float(np.median(samples)) / 1e9, "best_gflops": flop / min(samples) / 1e9,
            "runs": len(samples), "size": size}
