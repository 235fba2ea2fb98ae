"""The machine's attainable fp32 throughput: a GEMM micro-benchmark per thread count.

A large single-precision matrix product runs near the CPU's vector peak. The ceiling is the best of two
BLAS implementations (numpy's OpenBLAS and torch's oneDNN/MKL) at 2048x2048, best of repeated runs: one
library alone can sit below what a runtime's own kernels reach (ONNX Runtime's MLAS beat OpenBLAS at
1024 here). A runtime's achieved GFLOP/s divided by this says how much of the machine an inference uses.
Measured in a fresh, pinned process per thread count, like every case.
"""

from __future__ import annotations

import time

import numpy as np

GEMM_SIZE = 2048
METHOD = "best of numpy and torch sgemm, 2048, best run"


def _time_products(multiply, seconds: float) -> list[float]:
    for _ in range(3):
        multiply()  # warm-up: thread pool start, caches
    samples = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(samples) < 5:
        begin = time.perf_counter()
        multiply()
        samples.append(time.perf_counter() - begin)
    return samples


def gemm_gflops(seconds: float = 1.0, size: int = GEMM_SIZE, threads: int | None = None) -> dict:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    flop = 2 * size**3
    results = {"numpy": _time_products(lambda: a @ b, seconds)}
    try:
        import torch

        if threads:
            torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        results["torch"] = _time_products(lambda: torch.mm(ta, tb), seconds)
    except ImportError:
        pass
    per_library = {name: flop / min(samples) / 1e9 for name, samples in results.items()}
    best = max(per_library, key=per_library.get)
    return {"gflops": per_library[best], "library": best, "per_library_gflops": per_library,
            "median_gflops": flop / float(np.median(results[best])) / 1e9, "size": size, "method": METHOD}


STREAM_ELEMENTS = 1 << 25  # float32 per array: 128 MiB each, far beyond any cache, so the kernel streams DRAM
BANDWIDTH_METHOD = "torch float32 triad a = b + 2c, 3 x 128 MiB, bytes read and written, best run"


def stream_bandwidth(seconds: float = 1.0, elements: int = STREAM_ELEMENTS, threads: int | None = None) -> dict:
    """The machine's sustainable memory bandwidth (GB/s) with ``threads`` threads: STREAM's triad, whose bytes
    are counted as STREAM counts them (two arrays read, one written; no write-allocate traffic)."""
    moved = 3 * elements * 4
    try:
        import torch
    except ImportError:  # a device's lean worker has numpy alone: STREAM's add kernel, the same bytes, one thread
        rng = np.random.default_rng(0)
        b, c = rng.random(elements, dtype=np.float32), rng.random(elements, dtype=np.float32)
        a = np.empty(elements, dtype=np.float32)
        samples = _time_products(lambda: np.add(b, c, out=a), seconds)
        method = "numpy float32 add a = b + c (no torch here: one thread), 3 x 128 MiB, bytes read and written, best run"
    else:
        if threads:
            torch.set_num_threads(threads)
        b, c = torch.rand(elements), torch.rand(elements)
        a = torch.empty(elements)
        samples = _time_products(lambda: torch.add(b, c, alpha=2.0, out=a), seconds)
        method = BANDWIDTH_METHOD
    return {"gb_per_s": moved / min(samples) / 1e9, "median_gb_per_s": moved / float(np.median(samples)) / 1e9,
            "bytes_per_run": moved, "method": method}

