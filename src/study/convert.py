"""Produce each model's artifacts once: ``artifacts/<model>/<format>-<precision>.<ext>`` + a JSON record.

A conversion runs in its own subprocess, so a converter that raises or crashes is recorded with its
error and the others go on. The record holds status, error, seconds, bytes and sha256, and the hash
of its inputs (model, source weights, converter versions): an artifact whose record matches and
whose bytes still hash the same is reused; a changed input or a damaged file is converted again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from study import environment, paths
from study.export import FORMATS, SOURCE_FORMAT
from study.fsutil import write_json_atomic
from study.isolate import run_isolated

CONVERSION_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Artifact:
    model: str
    format: str
    batch: int | None   # the batch size baked in, for static-batch formats
    path: Path
    record: dict

    @property
    def ok(self) -> bool:
        return self.record.get("status") == "ok"

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inputs_key(model: str, fmt: str, batch: int | None, source_sha: str | None) -> str:
    inputs = {"model": model, "format": fmt, "batch": batch, "source_sha256": source_sha,
              "versions": environment.versions(FORMATS[fmt].packages)}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


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
    if record.get("inputs_key") != key:
        return None
    if record.get("status") == "ok" and not (path.exists() and file_sha256(path) == record.get("sha256")):
        return None
    return record


def ensure_artifact(model: str, fmt: str, batch: int = 1, force: bool = False, log=print) -> Artifact:
    """The artifact of ``model`` in ``fmt`` (for ``batch`` if the format fixes it), converted only when needed."""
    fixed = artifact_batch(fmt, batch)
    path = artifact_path(model, fmt, batch)
    what = f"{model} -> {fmt}" + (f" (batch {fixed})" if fixed is not None else "")
    source = None if fmt == SOURCE_FORMAT else ensure_artifact(model, SOURCE_FORMAT, log=log)
    if source is not None and not source.ok:
        record = {"status": "failed", "error": f"source weights unavailable: {source.record.get('error')}",
                  "inputs_key": None}
        return Artifact(model, fmt, fixed, path, record)
    key = _inputs_key(model, fmt, fixed, source.record["sha256"] if source else None)
    record = _current(path, key, force)
    if record is not None:
        return Artifact(model, fmt, fixed, path, record)
    log(f"converting {what} ...")
    spec = {"kind": "convert", "model": model, "format": fmt, "destination": str(path), "batch": fixed or 1,
            "weights": str(source.path) if source else None}
    result = run_isolated(spec, CONVERSION_TIMEOUT_S,
                          log_path=paths.model_artifacts_dir(model) / "logs" / f"{path.stem}.log")
    record = {**result, "inputs_key": key, "model": model, "format": fmt, "batch": fixed,
              "precision": FORMATS[fmt].precision,
              "converted_at": environment.utc_now(), "versions": environment.versions(FORMATS[fmt].packages)}
    if result["status"] == "ok":
        record.update(bytes=path.stat().st_size, sha256=file_sha256(path))
        log(f"converted {what}: {record['bytes'] / 1e6:.1f} MB in {record['seconds']:.1f} s")
    else:
        log(f"conversion {what} FAILED: {record['error']}")
    write_json_atomic(_record_path(path), record)
    return Artifact(model, fmt, fixed, path, record)
