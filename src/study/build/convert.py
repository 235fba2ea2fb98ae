"""Produce and validate each model's artifacts: ``artifacts/<model>/<format>-<precision>[-b<batch>]<ext>``.

A conversion runs in its own subprocess, then the artifact is run on the validation suite in its
runtime in another, so a converter or runtime that raises or crashes is recorded with its error and
the others go on. Each artifact has a JSON record beside it: status (``ok``, ``failed``,
``mismatch``), first line of the error, seconds, bytes, sha256, the files' stamp (size, modification
time), parity numbers, and the hash of its inputs (model, source weights, batch, converter versions). An
artifact whose record matches and whose files are unchanged (the same stamp, or else the same hash) is
reused; a changed input or a damaged file is converted again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from study.core import environment
from study.core import paths
from study.core.ids import code_digest, content_id
from study.build.export import FORMATS, SOURCE_FORMATS, conversion_targets
from study.core.fsutil import display_path, write_json_atomic
from study.core.errors import StudyError
from study.core.isolate import run_isolated
from study.build.models import MODELS, ModelSpec, byo, get_model
from study.core.runtimes import runtime_for_format
from study.core.schema import CONVERSION_COLUMNS
from study.build.validation import VALIDATION_SAMPLES, verdict

CONVERSION_TIMEOUT_S = 1800

# who wants to know when conversions ran in this process (``timing_conversions``); conversions run in pool threads
_SPAN_LISTS: list[list[tuple[float, float]]] = []
_SPANS_LOCK = threading.Lock()


@contextmanager
def timing_conversions():
    """The (start, end) ``perf_counter`` spans of every conversion made in this process while inside, in any thread:
    how long a phase spent converting, apart from the checks it makes of artifacts already on disk."""
    spans: list[tuple[float, float]] = []
    with _SPANS_LOCK:
        _SPAN_LISTS.append(spans)
    try:
        yield spans
    finally:
        with _SPANS_LOCK:
            _SPAN_LISTS.remove(spans)


def _converted_during(started: float) -> None:
    with _SPANS_LOCK:
        for spans in _SPAN_LISTS:
            spans.append((started, time.perf_counter()))


def spans_seconds(spans) -> float:
    """The seconds covered by at least one span: conversions side by side count once."""
    covered, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


PROBE_TIMEOUT_S = 600
VALIDATION_TIMEOUT_S = 600
# A validation slower than this many times the source model's own run (its reference, in its own runtime) stops at
# its second call, with the ratio and, for ExecuTorch, the operators XNNPACK left to the portable kernels
VALIDATION_SLOWDOWN = 25
# ... but never below this per sample: on a model that takes 0.1 ms, a runtime's per-call overhead and one call caught
# in a slow spell of the machine decide the ratio, not its kernels (torch eager once read 38x on such a model in a
# busy test run); a call this short cannot stall a run, whose timing budget bounds it anyway
VALIDATION_FLOOR_MS = 10.0


@dataclass(frozen=True)
class Artifact:
    model: str
    format: str
    batch: int | None   # the batch size baked in, for static-batch formats
    path: Path
    record: dict

    @property
    def ok(self) -> bool:
        """Usable: converted, whether or not its outputs match (a mismatch is measured and flagged)."""
        return self.record.get("status") in ("ok", "mismatch")

    @property
    def precision(self) -> str:
        return FORMATS[self.format].precision


def artifact_batch(fmt: str, batch: int) -> int | None:
    """The batch an artifact of ``fmt`` is exported for: ``batch`` if the format fixes it, else None."""
    return batch if FORMATS[fmt].static_batch else None


def artifact_path(model: str, fmt: str, batch: int = 1) -> Path:
    spec = FORMATS[fmt]
    fixed = artifact_batch(fmt, batch)
    suffix = f"-b{fixed}" if fixed is not None else ""
    return paths.model_artifacts_dir(model) / f"{fmt}-{spec.precision}{suffix}{spec.extension}"


def validation_dir(model: str) -> Path:
    return paths.model_artifacts_dir(model) / "validation"


def artifact_files(path: Path) -> list[Path]:
    """The files an artifact consists of: itself, or every file below it for a directory format."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def artifact_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in artifact_files(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for file in artifact_files(path):
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def files_stamp(path: Path) -> str:
    """What the file system says of an artifact's files (name, size, modification time in ns), as an id: unchanged
    since its record was written, its bytes need not be hashed again. A file rewritten or truncated since gets a new
    stamp, and is then checked by its hash."""
    return content_id([[str(file.relative_to(path)) if path.is_dir() else file.name, (stat := file.stat()).st_size,
                        stat.st_mtime_ns] for file in artifact_files(path)])


def compressed_bytes(path: Path) -> int:
    """Size after DEFLATE (level 6, as zip and gzip default): roughly what an over-the-air update downloads."""
    import zlib

    total = 0
    for file in artifact_files(path):
        compressor = zlib.compressobj(6)
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                total += len(compressor.compress(block))
        total += len(compressor.flush())
    return total


@functools.cache  # the code a process runs does not change under it: read once, not at every artifact check
def _exporter_code_hash(fmt: str, framework: str) -> str:
    """Hash of the exporter's source files (found without importing its framework): new code, new artifact."""
    modules = [FORMATS[fmt].exporter_for(framework).partition(":")[0]]
    if framework in ("onnx", "tflite"):  # a file reaches the PyTorch routes through onnx2torch: that code counts too
        modules.append("study.build.export.onnx_torch")
    return code_digest(*modules)


def _inputs_key(model: str, fmt: str, batch: int | None, source_sha: str | None) -> str:
    inputs = {"model": model, "format": fmt, "batch": batch, "source_sha256": source_sha,
              "exporter_code": _exporter_code_hash(fmt, get_model(model).framework),
              "versions": environment.versions(FORMATS[fmt].packages)}
    return content_id(inputs)


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _current(path: Path, key: str, force: bool) -> dict | None:
    record_file = _record_path(path)
    if force or not record_file.exists():
        return None
    try:
        record = json.loads(record_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a damaged record only costs a re-conversion
    if not isinstance(record, dict) or record.get("inputs_key") != key:
        return None
    if record.get("status") in ("ok", "mismatch") and not (path.exists() and _unchanged(path, record)):
        return None
    return record


def _unchanged(path: Path, record: dict) -> bool:
    """Whether an artifact's files are those its record describes: by their stamp, else by their bytes' hash (a
    record written before stamps were kept, or a file touched but not changed)."""
    return record.get("files_stamp") == files_stamp(path) or file_sha256(path) == record.get("sha256")


def _validation_inputs(model: str) -> Path:
    """The model's fixed validation inputs, written once and then only read."""
    inputs = validation_dir(model) / "inputs.npy"
    if not inputs.exists():
        from study.core.fsutil import npy_bytes, write_bytes_atomic

        write_bytes_atomic(inputs, npy_bytes(get_model(model).validation_inputs(VALIDATION_SAMPLES)))
    return inputs


def _outside(taken: dict) -> str:
    """What a delegate left out, in words: "31 of 190 operators fell outside XNNPACK (...)"; empty if nothing."""
    if not taken.get("operators") or taken["operators"] <= taken.get("delegated_ops", 0):
        return ""
    return (f"{taken['operators'] - taken['delegated_ops']} of {taken['operators']} operators fell outside XNNPACK"
            + (f" ({taken['outside_delegate']})" if taken.get("outside_delegate") else ""))


def _bound(source: dict | None, converted: dict) -> dict | None:
    """How slow a validation or a timed run may be before it stops: the source's reference run, per sample, times
    the limit."""
    if not source or not source.get("reference_ms_per_sample"):
        return None
    from study.core.runtimes import RUNTIMES

    source_runtime = runtime_for_format(source["format"])
    return {"ms_per_sample": max(float(source["reference_ms_per_sample"]), 0.05), "slowdown": VALIDATION_SLOWDOWN,
            "floor_ms": VALIDATION_FLOOR_MS, "source": RUNTIMES[source_runtime].label if source_runtime in RUNTIMES else source["format"],
            "why": _outside(converted)}


def validate_artifact(model: str, fmt: str, path: Path, batch: int | None, log_stem: str,
                      source: dict | None = None, converted: dict | None = None,
                      inputs: Path | None = None, reference: Path | None = None) -> dict:
    """Run the artifact on the validation inputs in its runtime and judge its parity with the source. The record
    keeps the bound it ran under (``slowdown_bound``), so the timed runs of the same artifact stop as early, and,
    where the runtime delegates when it loads (LiteRT's XNNPACK), what the delegate took."""
    runtime = runtime_for_format(fmt)
    converted = converted or {}
    spec = {"kind": "validate", "model": model, "runtime": runtime, "artifact": str(path), "batch": batch or 1,
            "inputs": str(inputs or _validation_inputs(model)),
            "reference": str(reference or validation_dir(model) / "reference.npy"),
            "bound": _bound(source, converted)}
    result = run_isolated(spec, VALIDATION_TIMEOUT_S, threads=1,
                          log_path=paths.model_artifacts_dir(model) / "logs" / f"{log_stem}.validate.log")
    if result["status"] != "ok":
        return {"status": "failed", "error": f"converted, but {runtime} could not run it: {result['error']}",
                "validated_with": runtime}
    status, reason = verdict(result, FORMATS[fmt].precision)
    metrics = {k: v for k, v in result.items() if k != "status"}
    if "delegated_ops" in metrics and "delegated_ops" not in converted:  # delegated at load, not at export
        taken = f"XNNPACK took {metrics['delegated_ops']} of {metrics['operators']} operators" + (
            f"; outside: {metrics['outside_delegate']}" if metrics.get("outside_delegate") else "")
        metrics["note"] = "; ".join(filter(None, [converted.get("note"), taken]))
    if spec["bound"] is not None:
        metrics["slowdown_bound"] = {**spec["bound"], "why": spec["bound"]["why"] or _outside(metrics)}
    return {"status": status, "error": reason, "validated_with": runtime, **metrics}


def _fingerprint(ref: str) -> str:
    """What a bring-your-own model's identity hangs on: the file's bytes, or the factory module's source."""
    if byo.kind(ref) == "file":
        path = byo.file_path(ref)
        return file_sha256(path) if path.is_file() else "missing"
    from importlib.util import find_spec

    try:
        origin = find_spec(ref.partition(":")[0]).origin
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest()[:16]
    except (ImportError, AttributeError, TypeError, ValueError, OSError):
        return "unimportable"


def model_spec(ref: str, log=print) -> tuple[ModelSpec | None, str]:
    """The model's spec, probing a bring-your-own model in a subprocess first; (None, error) if it cannot be."""
    if ref in MODELS:
        return get_model(ref), ""
    fingerprint = _fingerprint(ref)
    record_file = byo.probe_path(ref)
    record = None
    if record_file.exists():
        try:
            record = json.loads(record_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        log(f"probing {ref} ...")
        result = run_isolated({"kind": "probe", "model": ref}, PROBE_TIMEOUT_S,
                              log_path=paths.model_artifacts_dir(ref) / "logs" / "probe.log")
        record = {**result, "fingerprint": fingerprint, "probed_at": environment.utc_now()}
        write_json_atomic(record_file, record)
        if record["status"] != "ok":
            log(f"model {ref} FAILED to load: {record['error']}")
    if record.get("status") != "ok":
        return None, f"cannot load the model: {record.get('error')}"
    return get_model(ref), ""


def not_applicable(model: str, fmt: str) -> bool:
    spec, _ = model_spec(model, log=lambda message: None)
    return spec is not None and FORMATS[fmt].exporter_for(spec.framework) is None


def ensure_artifact(model: str, fmt: str, batch: int = 1, force: bool = False, log=print,
                    convert: bool = True) -> Artifact | None:
    """The validated artifact of ``model`` in ``fmt`` (for ``batch`` if the format fixes it), made when needed; with
    ``convert=False``, None instead of making it (what is on disk and current, checked without converting)."""
    fixed = artifact_batch(fmt, batch)
    path = artifact_path(model, fmt, batch)
    what = f"{model} -> {fmt}" + (f" (batch {fixed})" if fixed is not None else "")
    spec, problem = model_spec(model, log=log)
    if spec is None:
        return Artifact(model, fmt, fixed, path, {"status": "failed", "error": problem, "inputs_key": None})
    if FORMATS[fmt].exporter_for(spec.framework) is None:
        return Artifact(model, fmt, fixed, path, {"status": "n/a", "error": f"no {fmt} exporter for {spec.framework}"})
    source_format = SOURCE_FORMATS[spec.framework]
    is_source = fmt == source_format
    source = None if is_source else ensure_artifact(model, source_format, log=log, convert=convert)
    if source is None and not is_source:
        return None  # its source is to be made first (only without ``convert``)
    if source is not None and source.record.get("status") != "ok":
        return Artifact(model, fmt, fixed, path, {"status": "failed", "inputs_key": None,
                                                  "error": f"source model unavailable: {source.record.get('error')}"})
    key = _inputs_key(model, fmt, fixed, source.record["sha256"] if source else
                      (None if model in MODELS else _fingerprint(model)))
    record = _current(path, key, force)
    if record is not None:
        return Artifact(model, fmt, fixed, path, record)
    if not convert:
        return None
    log(f"converting {what} ...")
    started = time.perf_counter()
    job = {"kind": "convert", "model": model, "format": fmt, "destination": str(path), "batch": fixed or 1,
           "weights": str(source.path) if source else None}
    if is_source:  # the source's outputs on the validation inputs are every other artifact's reference
        job.update(inputs=str(_validation_inputs(model)), reference=str(validation_dir(model) / "reference.npy"))
    result = run_isolated(job, CONVERSION_TIMEOUT_S, log_path=paths.model_artifacts_dir(model) / "logs" / f"{path.stem}.log")
    record = {**result, "inputs_key": key, "model": model, "framework": spec.framework, "format": fmt, "batch": fixed,
              "precision": FORMATS[fmt].precision, "converted_at": environment.utc_now(),
              "versions": environment.versions(FORMATS[fmt].packages)}
    if result["status"] == "ok":
        record.update(bytes=artifact_bytes(path), compressed_bytes=compressed_bytes(path), sha256=file_sha256(path),
                      files_stamp=files_stamp(path))
        if not is_source:
            record.update(validate_artifact(model, fmt, path, fixed, path.stem, source.record, result))
    if record["status"] == "ok":
        log(f"converted {what}: {record['bytes'] / 1e6:.1f} MB in {record['seconds']:.1f} s"
            + (f", parity max rel diff {record['max_rel_diff']:.1e}" if "max_rel_diff" in record else ""))
    else:
        log(f"conversion {what} {record['status'].upper()}: {record['error']}")
    write_json_atomic(_record_path(path), record)
    _converted_during(started)
    return Artifact(model, fmt, fixed, path, record)


def parity_on_inputs(model: str, inputs, artifacts: dict) -> dict:
    """Each artifact's parity with the source model on ``inputs`` (a user's own: an array, or a tuple per input),
    by runtime: the validation suite's check, on what the model will really see. ``artifacts``: by runtime."""
    from study.build.user_inputs import inputs_digest
    from study.core.fsutil import npy_bytes, write_bytes_atomic

    spec, _ = model_spec(model, log=lambda message: None)
    source = ensure_artifact(model, SOURCE_FORMATS[spec.framework], log=lambda message: None)
    folder = validation_dir(model) / f"yours-{inputs_digest(inputs)}"
    inputs_path, reference = folder / "inputs.npy", folder / "reference.npy"
    if not inputs_path.exists():
        write_bytes_atomic(inputs_path, npy_bytes(inputs))
    if not reference.exists():
        result = run_isolated({"kind": "reference", "model": model, "source": str(source.path),
                               "inputs": str(inputs_path), "destination": str(reference)}, VALIDATION_TIMEOUT_S,
                              threads=1, log_path=paths.model_artifacts_dir(model) / "logs" / "your-inputs.log")
        if result["status"] != "ok":
            raise StudyError(f"your inputs: the model itself could not run them: {result['error']}. Fix: give "
                             "inputs of the model's shape and dtype, preprocessed as it expects")
    found = {}
    for runtime, artifact in artifacts.items():
        if artifact is None or not artifact.ok or artifact.format == source.format:
            continue
        found[runtime] = validate_artifact(model, artifact.format, artifact.path, artifact.batch,
                                           f"{artifact.path.stem}.yours", source.record, artifact.record,
                                           inputs=inputs_path, reference=reference)
    return found


def reference_outputs(model: str) -> np.ndarray:
    from study.core.fsutil import load_arrays

    return load_arrays(validation_dir(model) / "reference.npy")


def _targets(framework: str) -> list[str]:
    """A model's formats in the conversion matrix: its source first, since every other starts from it."""
    source = SOURCE_FORMATS[framework]
    return [source] + [f for f in conversion_targets() if f != source]


def _model_rows(model: str, log, force: bool, known: dict | None = None, targets=None) -> list[dict]:
    """The model's rows of the matrix, converting what is missing; ``known``: its artifacts already found current;
    ``targets``: only these formats (and the source), where not every format is wanted."""
    known = known or {}
    spec, problem = model_spec(model, log=log)
    if spec is None:  # a model that cannot even be loaded: one failed row, the others go on
        return [{**dict.fromkeys(CONVERSION_COLUMNS), "model": model, "target": "source", "is_source": True,
                 "status": "failed", "error": problem}]
    framework = spec.framework
    source = SOURCE_FORMATS[framework]
    rows = []
    for target in _targets(framework):
        if targets is not None and target != source and target not in targets:
            continue
        artifact = known.get((model, target)) or ensure_artifact(model, target, 1, force=force and target != source,
                                                                 log=log)
        record = artifact.record
        row = {column: record.get(column) for column in CONVERSION_COLUMNS}
        source_record = (known.get((model, source)) or ensure_artifact(model, source, 1, log=log)).record
        row.update(model=model, framework=framework, target=target, is_source=target == source,
                   status=record.get("status"), error=record.get("error", ""),
                   parameters=source_record.get("parameters"),
                   path=display_path(artifact.path) if artifact.ok else "")
        rows.append(row)
    return rows


def conversion_rows(model: str, targets, log=print) -> pd.DataFrame:
    """The matrix's rows of one model for ``targets`` only (and its source), converting what is missing."""
    return pd.DataFrame(_model_rows(model, log, False, targets=set(targets)), columns=list(CONVERSION_COLUMNS))


def conversion_matrix(models, log=print, force: bool = False, jobs: int | None = None) -> pd.DataFrame:
    """Convert (or reuse) every model to every target at batch 1 and tabulate the records.

    Models convert side by side, one per CPU (``jobs``): a conversion is not a timing measurement, and the
    conversion phase would otherwise dominate a first run. Each model's own targets convert in order, since
    they all start from its source weights. ``seconds`` is therefore wall time on a busy machine."""
    models = list(models)
    known: dict[tuple[str, str], Artifact] = {}
    if not force:
        # What is on disk is checked first, here, once, before conversions start side by side: the phase's set-up,
        # timed apart from its conversions. A second run only checks; its estimate reads the first run's set-up,
        # which checks made between conversions would have hidden inside their spans.
        specs = [(model, spec) for model in models for spec in [model_spec(model, log=log)[0]] if spec is not None]
        wanted = [(model, fmt) for model, spec in specs for fmt in _targets(spec.framework)
                  if FORMATS[fmt].exporter_for(spec.framework) is not None]
        for model, fmt in wanted:
            artifact = ensure_artifact(model, fmt, log=log, convert=False)
            if artifact is not None:
                known[model, fmt] = artifact
        log(f"{len(known)} of {len(wanted)} artifact(s) on disk and current"
            + (f"; converting the other {len(wanted) - len(known)}" if len(known) < len(wanted) else ""))
    workers = max(1, min(jobs or os.cpu_count() or 1, len(models) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_model = list(pool.map(lambda m: _model_rows(m, log, force, known), models))
    return pd.DataFrame([row for rows in per_model for row in rows], columns=list(CONVERSION_COLUMNS))
