"""The body of one case, run in a fresh subprocess: ``python -m study.measure.worker SPEC.json RESULT.json``.

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
    """A timed case or an energy case: the one measurement loop (study.measure.engine)."""
    from study.measure.engine import run

    return run(spec)


def convert(spec: dict) -> dict:
    import shutil

    from study.build.export import FORMATS
    from study.build.models import get_model
    from study.core.registry import resolve

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
        from study.core.fsutil import load_arrays, npy_bytes, write_bytes_atomic
        from study.build.models import SOURCE_RUNNERS

        inputs = load_arrays(Path(spec["inputs"]))
        started = time.perf_counter()
        outputs = resolve(SOURCE_RUNNERS[model.framework])(model, destination, inputs)
        info["reference_ms_per_sample"] = (time.perf_counter() - started) * 1e3 / len(_first(inputs))
        write_bytes_atomic(Path(spec["reference"]), npy_bytes(outputs))
    return {"status": "ok", "seconds": seconds, **info}


def _first(inputs):
    return inputs[0] if isinstance(inputs, tuple) else inputs


def validate(spec: dict) -> dict:
    from study.core.fsutil import load_arrays
    from study.build.models import get_model
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES
    from study.build.validation import informative, parity, run_in_chunks
    from study.measure.timing import judge_call

    model = get_model(spec["model"])
    backend = resolve(RUNTIMES[spec["runtime"]].backend)(threads=1)
    backend.load(Path(spec["artifact"]), model, spec["batch"])
    inputs = load_arrays(Path(spec["inputs"]))
    reference = load_arrays(Path(spec["reference"]))
    taken = backend.delegation()  # LiteRT: the operators its XNNPACK delegate took (ExecuTorch says so when lowered)
    bound = spec.get("bound")  # {"ms_per_sample", "slowdown", "source", "why"}: the model's own cost, scaled
    if bound and not bound.get("why") and taken and taken["operators"] > taken["delegated_ops"]:
        bound = {**bound, "why": f"{taken['operators'] - taken['delegated_ops']} of {taken['operators']} operators "
                                 f"fell outside XNNPACK ({taken['outside_delegate']})"}
    calls: list[float] = []

    def predict(chunk):
        started = time.perf_counter()
        out = backend.predict(chunk)
        calls.append(time.perf_counter() - started)
        judge_call(calls, len(_first(chunk)) if not isinstance(chunk, tuple) else 1, bound,
                   spec["runtime"])
        return out

    outputs = run_in_chunks(predict, inputs, spec["batch"])
    metrics = parity(outputs, reference)
    if model.task not in (None, "classification"):  # the arg-max of a detection map or of box values means nothing
        metrics["top1_agreement"] = None
    delegated = {} if not taken else {
        **taken, "delegated_share": taken["delegated_ops"] / taken["operators"] if taken["operators"] else None}
    return {"status": "ok", **metrics, **informative(reference), **delegated}


def reference(spec: dict) -> dict:
    """The source model's outputs on given inputs (a user's own, ``study compare --inputs``): the reference that
    every artifact's parity on those inputs is judged against."""
    from study.build.models import SOURCE_RUNNERS, get_model
    from study.core.fsutil import load_arrays, npy_bytes, write_bytes_atomic
    from study.core.registry import resolve

    model = get_model(spec["model"])
    outputs = resolve(SOURCE_RUNNERS[model.framework])(model, Path(spec["source"]), load_arrays(Path(spec["inputs"])))
    write_bytes_atomic(Path(spec["destination"]), npy_bytes(outputs))
    return {"status": "ok"}


def probe(spec: dict) -> dict:
    from study.build.models.byo import probe as probe_model

    return {"status": "ok", **probe_model(spec["model"])}


def naive(spec: dict) -> dict:
    from study.measure.naive import single_call_ms

    return {"status": "ok", **single_call_ms(spec["framework"], spec["model"], Path(spec["source"]), spec["threads"])}


def gemm(spec: dict) -> dict:
    from study.measure.peak import gemm_gflops

    return {"status": "ok", **gemm_gflops(threads=spec.get("threads"))}


def bandwidth(spec: dict) -> dict:
    from study.measure.peak import stream_bandwidth

    return {"status": "ok", **stream_bandwidth(threads=spec.get("threads"))}


def quant_build(spec: dict) -> dict:
    from study.build.quant.build import build

    record = build(spec["dataset"], spec["model"], spec["seed"], spec["epochs"], Path(spec["directory"]),
                   spec["threads"], log=lambda line: print(line, file=sys.stderr, flush=True))
    return {"status": "ok", "record": record}


def zoo_quant_build(spec: dict) -> dict:
    from study.build.quant.zoo import build

    record = build(spec["model"], Path(spec["directory"]), spec["threads"],
                   log=lambda line: print(line, file=sys.stderr, flush=True))
    return {"status": "ok", "record": record}


def device_facts(spec: dict) -> dict:
    """What the device is (CPU, ISA, governor, thermal zones, OS, Python, the runtimes' versions)."""
    from study.core.environment import device_facts as facts

    return {"status": "ok", "facts": facts(spec.get("packages") or ())}


def runtimes(spec: dict) -> dict:
    """Which of the named runtimes import here, and why not: a device's check before it measures."""
    from study.core.registry import resolve
    from study.core.runtimes import RUNTIMES

    found = {}
    for name in spec["runtimes"]:
        try:
            resolve(RUNTIMES[name].backend)
            found[name] = "ok"
        except Exception as exc:  # a missing or broken runtime is an answer, not a crash
            found[name] = first_line(exc)
    return {"status": "ok", "runtimes": found}


KINDS = {"measure": measure, "convert": convert, "validate": validate, "reference": reference, "probe": probe, "gemm": gemm, "bandwidth": bandwidth, "naive": naive,
         "quant_build": quant_build, "zoo_quant_build": zoo_quant_build, "device_facts": device_facts,
         "runtimes": runtimes}
# What a device's lean worker takes: timing and describing, never building (no converter is there)
DEVICE_KINDS = ("measure", "gemm", "bandwidth", "naive", "device_facts", "runtimes")
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "executorch", "onnxruntime", "ai_edge_litert")


def work(spec: dict) -> dict:
    """Pin to the spec's CPUs, then run its kind; any Python error is a failed result with its first line. A spec
    that imports unpinned (``import_unpinned``: a duel's workers, started together) is pinned by the engine once its
    runtime is imported, before the runtime makes a thread."""
    cpus = spec.get("cpus")
    if cpus and not spec.get("import_unpinned"):
        os.sched_setaffinity(0, cpus)
    try:
        return KINDS[spec["kind"]](spec)
    except Exception as exc:  # one case's failure is a result, never the end of the study
        traceback.print_exc(file=sys.stderr)
        return {"status": "failed", "error": first_line(exc)}


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    result = work(json.loads(spec_path.read_text()))
    from study.core.fsutil import write_json_atomic

    write_json_atomic(result_path, result)
    return 0


def device_main() -> int:
    from study.measure.launcher import RECORD_MARK

    """The lean worker on a device (``python study-worker.pyz``): the spec as JSON on the first line of stdin (a kept
    alive worker's requests follow it there: ``study.measure.scenarios.duel``), the result as one marked line on
    stdout (a runtime may print there too), with the frameworks the process imported, so a reader can check a LiteRT
    case loaded neither torch nor TensorFlow."""
    spec = json.loads(sys.stdin.readline())
    if spec.get("kind") not in DEVICE_KINDS:
        result = {"status": "failed", "error": f"the device worker does not run {spec.get('kind')!r} work"}
    else:
        result = work(spec)
    result["frameworks_imported"] = sorted(name for name in FRAMEWORKS if name in sys.modules)
    result["study_modules"] = sorted(name for name in sys.modules if name.split(".")[0] == "study")
    sys.stdout.write("\n" + RECORD_MARK + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
