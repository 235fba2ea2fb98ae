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
    from study.measure import peak_rss_mib, timed_runs
    from study.models import get_model
    from study.registry import resolve
    from study.runtimes import RUNTIMES

    model = get_model(spec["model"])
    inputs = model.example_input(batch=spec["batch"])
    timing = spec["timing"]

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

    call = lambda: backend.predict(inputs)  # noqa: E731
    warmup = timed_runs(call, max(timing["warmup_runs"], 1), timing["warmup_seconds"], timing["max_seconds"])
    samples = timed_runs(call, timing["min_runs"], timing["min_seconds"], timing["max_seconds"])
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
        "output_shape": list(getattr(output, "shape", ())),
    }


def convert(spec: dict) -> dict:
    from study.export import FORMATS
    from study.models import get_model
    from study.registry import resolve

    model = get_model(spec["model"])
    exporter = resolve(FORMATS[spec["format"]].exporter)
    destination = Path(spec["destination"])
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial{destination.suffix}")
    started = time.perf_counter()
    info = exporter(model, Path(spec["weights"]) if spec.get("weights") else None, partial, spec["batch"])
    seconds = time.perf_counter() - started
    os.replace(partial, destination)  # a half-written artifact never takes the real name
    return {"status": "ok", "seconds": seconds, **info}


KINDS = {"measure": measure, "convert": convert}


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
