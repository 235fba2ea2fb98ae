"""Measure a profile: every (model, runtime, threads, batch) case, each in a fresh subprocess.

A case's id hashes everything that determines its measurement; a case whose record exists is not
measured again unless ``force``. Records are written one by one as cases finish, and the tables are
rebuilt after each, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from study import environment
from study.convert import Artifact, artifact_batch, ensure_artifact, model_spec, not_applicable
from study.energy import rapl_available
from study.energy_bench import bench_energy
from study.quant.bench import bench_quantization
from study.errors import StudyError
from study.flops import model_flops
from study.fsutil import write_json_atomic
from study.isolate import run_isolated
from study.matrix import conversion_matrix
from study.measure import HARNESS_VERSION, summarize
from study.peak import METHOD as PEAK_METHOD
from study.profiles import Profile, load_profile
from study.importer import imported
from study.results import ResultsStore, load_latency
from study.runtimes import RUNTIMES

# Generous: a case is bounded by its timing budget; this only catches a hung runtime.
CASE_TIMEOUT_PADDING_S = 300


@dataclass(frozen=True)
class Case:
    model: str
    runtime: str
    threads: int
    batch: int
    cpus: tuple[int, ...]
    artifact: Artifact
    timing: dict
    runtime_version: str
    inputs: dict = field(hash=False)
    case_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.model} / {self.runtime} / {self.threads}t / batch {self.batch}"


def _runtime_version(runtime: str) -> str:
    found = environment.versions(RUNTIMES[runtime].packages)
    return " ".join(f"{name}=={version}" for name, version in found.items())


def plan(profile: Profile, log=print) -> list[Case]:
    """Every case of the profile, converting the artifacts they need first (each once)."""
    cpus = profile.allowed_cpus()
    timing = {
        "warmup_runs": profile.timing.warmup_runs, "warmup_seconds": profile.timing.warmup_seconds,
        "min_runs": profile.timing.min_runs, "min_seconds": profile.timing.min_seconds,
        "max_seconds": profile.timing.max_seconds, "target_ci": profile.timing.target_ci,
    }
    cases = []
    artifacts: dict[tuple, Artifact] = {}
    for model in profile.models:
        if model_spec(model, log=log)[0] is None:
            continue  # it failed to load: the conversion matrix records why
        for runtime in profile.runtimes:
            version = _runtime_version(runtime)
            fmt = RUNTIMES[runtime].artifact_format
            if not_applicable(model, fmt):
                continue  # e.g. PyTorch eager for a Keras model: not a case, not a failure
            for batch in profile.batch_sizes:
                key = (model, fmt, artifact_batch(fmt, batch))
                if key not in artifacts:
                    artifacts[key] = ensure_artifact(model, fmt, batch, log=log)
                artifact = artifacts[key]
                for threads in profile.resolved_threads():
                    inputs = {
                        "model": model, "runtime": runtime, "runtime_version": version, "threads": threads,
                        "batch": batch, "cpus": list(cpus), "timing": timing, "harness": HARNESS_VERSION,
                        "artifact": artifact.record.get("sha256") or f"unavailable:{artifact.record.get('inputs_key')}",
                    }
                    case_id = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
                    cases.append(Case(model, runtime, threads, batch, cpus, artifact, timing, version,
                                      inputs, case_id))
    return cases


def machine_peak(store: ResultsStore, threads: int, cpus: tuple[int, ...], log=print) -> float | None:
    """Attainable fp32 GFLOP/s with ``threads`` threads on ``cpus``, measured once per setting and kept."""
    path = store.directory / "peak.json"
    peaks = json.loads(path.read_text()) if path.exists() else {}
    key = f"{threads} threads on CPUs {' '.join(map(str, cpus))}, {PEAK_METHOD}"
    if key not in peaks:
        log(f"measuring the machine's GEMM peak with {key}")
        result = run_isolated({"kind": "gemm", "cpus": list(cpus), "threads": threads}, 600, threads=threads)
        if result["status"] != "ok":
            log(f"GEMM peak FAILED: {result['error']}")
            return None
        peaks[key] = {**result, "measured_at": environment.utc_now()}
        write_json_atomic(path, peaks)
    return peaks[key]["gflops"]


NAIVE_RUNTIME = {"torch": "torch_eager", "keras": "tensorflow"}  # the runtime whose p50 the naive call is set beside


def naive_timings(profile: Profile, store: ResultsStore, log=print) -> pd.DataFrame:
    """The article's single-call timing of every PyTorch and Keras model of the profile, measured once each."""
    from study.export import SOURCE_FORMATS

    path = store.directory / "naive.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    threads = max(profile.resolved_threads())
    for model in profile.models:
        spec, _ = model_spec(model, log=log)
        if spec is None or spec.framework not in NAIVE_RUNTIME:
            continue
        source = ensure_artifact(model, SOURCE_FORMATS[spec.framework], log=log)
        key = f"{model} {source.record.get('sha256')} {threads} {HARNESS_VERSION}"
        if key in {entry.get("key") for entry in done.values()} or not source.ok:
            continue
        log(f"timing one naive call of {model}, as the first article does")
        result = run_isolated({"kind": "naive", "model": model, "framework": spec.framework, "threads": threads,
                               "source": str(source.path), "cpus": list(profile.allowed_cpus())}, 600,
                              threads=threads)
        done[model] = {**result, "key": key, "model": model, "framework": spec.framework, "threads": threads,
                       "steady_runtime": NAIVE_RUNTIME[spec.framework], "measured_at": environment.utc_now()}
        write_json_atomic(path, done)
    return pd.DataFrame(list(done.values()))


def _row(profile: Profile, case: Case, result: dict, run_id: str, flops: int | None = None) -> dict:
    row = {
        "profile": profile.name, "case_id": case.case_id, "model": case.model, "format": case.artifact.format,
        "precision": case.artifact.precision, "variant": f"{case.artifact.format}-{case.artifact.precision}",
        "artifact_status": case.artifact.record.get("status"),
        "runtime": case.runtime, "runtime_version": case.runtime_version,
        "threads": case.threads, "cpus": " ".join(map(str, case.cpus)), "batch": case.batch,
        "status": result["status"], "error": result.get("error", ""),
        "artifact_bytes": case.artifact.record.get("bytes"), "artifact_sha256": case.artifact.record.get("sha256"),
        "machine": environment.machine_name(), "run_id": run_id, "measured_at": environment.utc_now(),
        "measurement": "measured",
    }
    if result["status"] == "ok":
        row.update(summarize(result["samples_ms"], batch=case.batch))
        row["n_warmup"] = len(result["warmup_ms"])
        for key in ("import_ms", "load_ms", "first_ms", "rss_import_mib", "rss_load_mib", "rss_peak_mib",
                    "native_lib_mib", "harness_overhead_ms"):
            row[key] = result[key]
        if flops:
            row["gflop_per_inference"] = flops / 1e9
            row["gflops"] = flops * case.batch / (row["p50_ms"] / 1e3) / 1e9
    return row


def measure_case(case: Case, log_dir=None) -> dict:
    if not case.artifact.ok:
        return {"status": "failed",
                "error": f"no {case.artifact.format} artifact: conversion failed: {case.artifact.record.get('error')}"}
    spec = {"kind": "measure", "model": case.model, "runtime": case.runtime, "artifact": str(case.artifact.path),
            "threads": case.threads, "batch": case.batch, "cpus": list(case.cpus), "timing": case.timing}
    timeout = 2 * case.timing["max_seconds"] + CASE_TIMEOUT_PADDING_S
    log_path = log_dir / f"{case.case_id}.log" if log_dir else None
    return run_isolated(spec, timeout, threads=case.threads, log_path=log_path)


def convert_profile(profile_ref, log=None) -> pd.DataFrame:
    """The conversion matrix of a profile's models, written to results/<profile>/conversions.csv."""
    profile = load_profile(profile_ref)
    log = log or (lambda m: tqdm.write(f"[{profile.name}] {m}"))
    models = list(dict.fromkeys(profile.conversion_models + profile.models))
    log(f"conversion matrix of {len(models)} model(s)")
    matrix = conversion_matrix(models, log=log)
    ResultsStore(profile.name).write_conversions(matrix)
    return matrix


def check_energy_source(profile: Profile) -> None:
    """Fail before measuring anything when the profile's energy source cannot work on this machine."""
    energy = profile.energy
    if energy.source == "rapl" and not rapl_available(Path(energy.rapl_root)):
        raise StudyError(f"{profile.path.name}: energy.source: rapl, but no readable RAPL counters under "
                         f"{energy.rapl_root}. Fix: use source model (labelled modelled) or meter, or make "
                         "energy_uj readable (root, or chmod on the powercap files)")
    if energy.source == "meter" and not Path(energy.meter_csv).parent.is_dir():
        raise StudyError(f"{profile.path.name}: energy.meter_csv: folder {Path(energy.meter_csv).parent} does not "
                         "exist. Fix: point it where your meter's CSV will be saved")


def bench(profile_ref, force: bool = False, progress: bool = True) -> pd.DataFrame:
    """Measure every case of a profile not measured yet (all of them with ``force``); the latency table.

    ``force`` re-measures; it does not re-convert, since artifacts are already keyed by their inputs
    (``python -m study convert --force`` redoes conversions)."""
    profile = load_profile(profile_ref)
    store = ResultsStore(profile.name)
    say = tqdm.write
    origin = imported(profile.name)
    if origin:  # measured on another machine and imported: this machine must not add its own numbers
        say(f"[{profile.name}] imported from {origin['machine']} ({origin['cpu_model']}): nothing measured here")
        return load_latency(profile.name)
    check_energy_source(profile)
    log = lambda m: say(f"[{profile.name}] {m}")  # noqa: E731
    convert_profile(profile, log=log)
    say(f"[{profile.name}] planning cases (converting artifacts where needed)")
    cases = plan(profile, log=log)
    pending = [c for c in cases if force or store.get(c.case_id) is None]
    say(f"[{profile.name}] {len(cases)} cases, {len(cases) - len(pending)} already measured, {len(pending)} to measure")
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    measured = []
    # the machine's ceiling per thread count: measured once, applied when the tables are written
    peaks = {threads: machine_peak(store, threads, profile.allowed_cpus(), log=log)
             for threads in sorted({c.threads for c in cases})}
    if pending:
        store.write_run(run_id, environment.collect(profile.name, profile.content_hash), measured)
    # disable=None: a bar on a terminal, plain log lines when output goes to a file or CI log
    flops = {model: model_flops(model) for model in sorted({c.model for c in pending})}
    for case in tqdm(pending, desc=f"{profile.name}: measuring", unit="case", disable=None if progress else True):
        say(f"[{profile.name}] measuring {case.label}")
        result = measure_case(case, log_dir=store.directory / "logs")
        row = _row(profile, case, result, run_id, flops.get(case.model))
        store.put({"case_id": case.case_id, "status": result["status"], "inputs": case.inputs, "row": row,
                   "native_libs": result.get("native_libs"),
                   "warmup_ms": result.get("warmup_ms"), "samples_ms": result.get("samples_ms")})
        measured.append(case.case_id)
        store.write_tables([c.case_id for c in cases], peaks)
        if result["status"] == "ok":
            say(f"[{profile.name}]   p50 {row['p50_ms']:.2f} ms [{row['ci_low_ms']:.2f}, {row['ci_high_ms']:.2f}] "
                f"over {row['n_runs']} runs, peak RSS {row['rss_peak_mib']:.0f} MiB"
                + ("  (high dispersion: CV > 10%)" if row["high_dispersion"] else ""))
        else:
            say(f"[{profile.name}]   FAILED: {row['error']}")
    measured += bench_energy(profile, cases, run_id, force=force, progress=progress)
    measured += bench_quantization(profile, force=force, progress=progress)
    naive_timings(profile, store, log=log)
    if measured:
        store.write_run(run_id, environment.collect(profile.name, profile.content_hash), measured)
    return store.write_tables([c.case_id for c in cases], peaks)
