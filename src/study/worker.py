"""The body of one case, run in a fresh subprocess: ``python -m study.worker SPEC.json RESULT.json``.

The parent sets thread variables in the environment; here the process pins itself to the profile's
CPUs before importing anything heavy, then imports only the framework the case needs, so import
time, memory and thread pools belong to that case alone. Any Python error becomes a ``failed``
result with its first line; a crash is seen by the parent as a missing result.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".strip().rstrip(":")[:500]


def measure(spec: dict) -> dict:
    from study.measure import harness_overhead_ms, mapped_libraries, peak_rss_mib, timed_runs
    from study.models import get_model
    from study.registry import resolve
    from study.runtimes import RUNTIMES

    model = get_model(spec["model"])
    inputs = model.example_input(batch=spec["batch"])
    timing = spec["timing"]
    libraries_before = mapped_libraries()

    started = time.perf_counter()
    backend_class = resolve(RUNTIMES[spec["runtime"]].backend)
    import_ms = (time.perf_counter() - started) * 1e3
    rss_import = peak_rss_mib()

    backend = backend_class(threads=spec["threads"])
    started = time.perf_counter()
    backend.load(Path(spec["artifact"]), model, spec["batch"])
    load_ms = (time.perf_counter() - started) * 1e3
    rss_load = peak_rss_mib()

    started = time.perf_counter()
    output = backend.predict(inputs)
    first_ms = (time.perf_counter() - started) * 1e3
    # what the runtime added to the process to run this model: its share of an app's native footprint
    runtime_libraries = sorted(mapped_libraries() - libraries_before)
    native_bytes = sum(os.path.getsize(p) for p in runtime_libraries if os.path.exists(p))

    call = lambda: backend.predict(inputs)  # noqa: E731
    warmup = timed_runs(call, max(timing["warmup_runs"], 1), timing["warmup_seconds"], timing["max_seconds"])
    samples = timed_runs(call, timing["min_runs"], timing["min_seconds"], timing["max_seconds"],
                         timing.get("target_ci", 0.0))
    return {
        "status": "ok",
        "import_ms": import_ms,
        "load_ms": load_ms,
        "first_ms": first_ms,
        "warmup_ms": warmup,
        "samples_ms": samples,
        "rss_import_mib": rss_import,
        "rss_load_mib": rss_load,
        "rss_peak_mib": peak_rss_mib(),
        "harness_overhead_ms": harness_overhead_ms(),
        "output_shape": list(getattr(output, "shape", ())),
        "native_lib_mib": native_bytes / 2**20,
        "native_libs": runtime_libraries,
    }


def energy(spec: dict) -> dict:
    """Load, warm up, then an idle window and repeated active windows (study.energy.measure_windows)."""
    from study.energy import measure_windows
    from study.measure import timed_runs
    from study.models import get_model
    from study.registry import resolve
    from study.runtimes import RUNTIMES

    model = get_model(spec["model"])
    inputs = model.example_input(batch=spec["batch"])
    backend = resolve(RUNTIMES[spec["runtime"]].backend)(threads=spec["threads"])
    backend.load(Path(spec["artifact"]), model, spec["batch"])
    call = lambda: backend.predict(inputs)  # noqa: E731
    timing = spec["timing"]
    warmup = timed_runs(call, max(timing["warmup_runs"], 1), timing["warmup_seconds"], timing["max_seconds"])
    settings = spec["energy"]
    windows = measure_windows(call, settings["window_seconds"], settings["windows"], settings["source"],
                              settings.get("rapl_root"))
    return {"status": "ok", "warmup_ms": warmup, "windows": windows}


def convert(spec: dict) -> dict:
    import shutil

    from study.export import FORMATS
    from study.models import get_model
    from study.registry import resolve

    model = get_model(spec["model"])
    exporter = resolve(FORMATS[spec["format"]].exporter_for(model.framework))
    destination = Path(spec["destination"])
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial{destination.suffix}")
    shutil.rmtree(partial, ignore_errors=True) if partial.is_dir() else partial.unlink(missing_ok=True)
    started = time.perf_counter()
    info = exporter(model, Path(spec["weights"]) if spec.get("weights") else None, partial, spec["batch"])
    seconds = time.perf_counter() - started
    if destination.is_dir():
        shutil.rmtree(destination)
    os.replace(partial, destination)  # a half-written artifact never takes the real name
    if spec.get("reference"):
        import numpy as np

        from study.fsutil import write_bytes_atomic
        from study.models import SOURCE_RUNNERS

        inputs = np.load(spec["inputs"], allow_pickle=False)
        outputs = resolve(SOURCE_RUNNERS[model.framework])(model, destination, inputs)
        write_bytes_atomic(Path(spec["reference"]), _npy_bytes(outputs))
    return {"status": "ok", "seconds": seconds, **info}


def _npy_bytes(array) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def validate(spec: dict) -> dict:
    import numpy as np

    from study.models import get_model
    from study.registry import resolve
    from study.runtimes import RUNTIMES
    from study.validation import informative, parity, run_in_chunks

    model = get_model(spec["model"])
    backend = resolve(RUNTIMES[spec["runtime"]].backend)(threads=1)
    backend.load(Path(spec["artifact"]), model, spec["batch"])
    inputs = np.load(spec["inputs"], allow_pickle=False)
    reference = np.load(spec["reference"], allow_pickle=False)
    outputs = run_in_chunks(backend.predict, inputs, spec["batch"])
    return {"status": "ok", **parity(outputs, reference), **informative(reference)}


def probe(spec: dict) -> dict:
    from study.models.byo import probe as probe_model

    return {"status": "ok", **probe_model(spec["model"])}


def naive(spec: dict) -> dict:
    from study.naive import single_call_ms

    return {"status": "ok", **single_call_ms(spec["framework"], spec["model"], Path(spec["source"]), spec["threads"])}


def gemm(spec: dict) -> dict:
    from study.peak import gemm_gflops

    return {"status": "ok", **gemm_gflops(threads=spec.get("threads"))}


def quant_build(spec: dict) -> dict:
    from study.quant.build import build

    record = build(spec["dataset"], spec["model"], spec["seed"], spec["epochs"], Path(spec["directory"]),
                   spec["threads"], log=lambda line: print(line, file=sys.stderr, flush=True))
    return {"status": "ok", "record": record}


def quant_speed(spec: dict) -> dict:
    from study.quant.build import speed

    return speed(spec)


KINDS = {"measure": measure, "energy": energy, "convert": convert, "validate": validate, "probe": probe, "gemm": gemm,
         "naive": naive, "quant_build": quant_build, "quant_speed": quant_speed}


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    cpus = spec.get("cpus")
    if cpus:
        os.sched_setaffinity(0, cpus)
    from study.fsutil import write_json_atomic

    try:
        result = KINDS[spec["kind"]](spec)
    except Exception as exc:  # one case's failure is a result, never the end of the study
        traceback.print_exc(file=sys.stderr)
        result = {"status": "failed", "error": first_line(exc)}
    write_json_atomic(result_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
